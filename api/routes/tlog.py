"""The log as a C2SP tlog-tiles transparency log: its signed checkpoint and its tiles.

Public, like the static host `da audit publish` fills: an entry holds only an event's position
and chain hash, and a tile only hashes, so nothing of a definition is shown. Full tiles and
entry bundles never change (cached for a year); the checkpoint and partial tiles change with
every write (cached for a few seconds).
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import ERRORS, RegistryDep
from registry import answers

router = APIRouter(prefix="/tlog", tags=["transparency log"])

_TEXT = "text/plain; charset=utf-8"
_BYTES = "application/octet-stream"
_IMMUTABLE = "public, max-age=31536000, immutable"
_FRESH = "public, max-age=2"


@router.get(
    "/checkpoint",
    response_class=Response,
    responses={200: {"content": {_TEXT: {}}}, **ERRORS},
    summary="The signed checkpoint",
)
def checkpoint(reg: RegistryDep) -> Response:
    """The tree's size and root, signed with the log's Ed25519 key (c2sp.org/tlog-checkpoint;
    `GET /api/audit/key` gives the verifier key)."""
    return Response(
        answers.tlog_checkpoint(reg), media_type=_TEXT, headers={"Cache-Control": _FRESH}
    )


@router.get(
    "/tile/{level}/{index:path}",
    response_class=Response,
    responses={200: {"content": {_BYTES: {}}}, **ERRORS},
    summary="A tile or an entry bundle",
)
def tile(reg: RegistryDep, level: str, index: str) -> Response:
    """`tile/<L>/<N>[.p/<W>]` (Merkle tree hashes) and `tile/entries/<N>[.p/<W>]` (entries,
    each a big-endian uint16 length then `{"hash":...,"position":...}`), as c2sp.org/tlog-tiles
    lays them out; 404 for a tile the tree does not have (yet)."""
    data = answers.tlog_tile(reg, level, index)
    cache = _FRESH if ".p/" in index else _IMMUTABLE
    return Response(data, media_type=_BYTES, headers={"Cache-Control": cache})
