"""The transparency log over HTTP: tlog-scales reads the served tiles as any outsider would,
and the audit routes prove inclusion and consistency; on every engine."""

from __future__ import annotations

import base64

from tlog_scales import tlog as scales
from tlog_scales.reader import TilesReader
from tlog_scales.signing import Vkey

from events import merkle
from tests.api.conftest import FIXTURE_EVENTS, Api


class Served:
    """tlog-scales' backend protocol over the test client: GET <prefix>/<path>, no token."""

    def __init__(self, api: Api) -> None:
        self.api = api

    def get(self, *path: str) -> bytes | None:
        response = self.api.get("/tlog/" + "/".join(path), role=None)
        return response.content if response.status_code == 200 else None


def test_an_outsider_reads_the_served_tree_without_a_token(loaded: Api) -> None:
    size = 11 + FIXTURE_EVENTS
    key = loaded.get("/api/audit/key", role="auditor").json()
    reader = TilesReader(Served(loaded))
    checkpoint = reader.get_checkpoint()
    checkpoint.verify(Vkey.from_string(key["verifier_key"]))
    assert (checkpoint.origin, checkpoint.size) == (key["origin"], size)
    assert reader.calculate_root_hash() == checkpoint.root_hash
    events = loaded.get("/api/events", role="auditor").json()["events"]
    for index, event in enumerate(events):
        assert reader.get_entry(index) == merkle.entry(event["position"], event["hash"])
    response = loaded.get("/tlog/checkpoint", role=None)
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=2"
    tile = loaded.get(f"/tlog/tile/0/000.p/{size}", role=None)
    assert tile.headers["content-type"] == "application/octet-stream"
    assert len(tile.content) == 32 * size
    for missing in (
        "/tlog/tile/0/000",
        "/tlog/tile/0/000.p/99",
        "/tlog/tile/0/x1/000",
        "/tlog/tile/entries/001.p/1",
        "/tlog/tile/64/000",
        "/tlog/tile/0/..%2F..%2Fkey",
        "/tlog/tile/0/x999/x999/x999/x999/x999/x999/999",  # past any 64-bit position
        "/tlog/tile/entries/x036/x028/x797/x018/x963/966",  # the last index there may be
        "/tlog/tile/entries/x036/x028/x797/x018/x963/966.p/255",
        "/tlog/tile/63/x036/x028/x797/x018/x963/966",
    ):
        answer = loaded.get(missing, role=None)
        assert answer.status_code == 404 and "detail" in answer.json(), missing


def test_proofs_and_a_kept_checkpoint_through_the_audit_routes(loaded: Api) -> None:
    kept = loaded.get("/tlog/checkpoint", role=None).text
    update = {"unit": "EUR", "reason": "later"}
    assert loaded.get("/tlog/checkpoint", role=None).text == kept  # (signed once per commit)
    assert loaded.call("PATCH", "/api/admin/metrics/revenue/mrr", json=update).status_code == 200
    now = scales.Checkpoint.from_text(loaded.get("/tlog/checkpoint", role=None).text)
    assert now.size == scales.Checkpoint.from_text(kept).size + 1  # the next commit's tree
    proof = loaded.get("/api/audit/proof", role="auditor", params={"position": 3}).json()
    head, _, note = proof["proof"].partition("\n\n")
    lines = head.split("\n")
    checkpoint = scales.Checkpoint.from_text(note)
    path = [base64.b64decode(h) for h in lines[3:]]
    leaf = merkle.leaf_hash(proof["entry"].encode())
    scales.InclusionProof(2, checkpoint.size, path).check(leaf, checkpoint.root_hash)
    report = loaded.call(
        "POST", "/api/audit/verify", role="auditor", json={"checkpoint": kept}
    ).json()
    assert report["ok"] and report["checkpoint"]["consistent"]
    assert report["checkpoint"]["checkpoint_size"] == checkpoint.size - 1
    old = scales.Checkpoint.from_text(kept)
    proof_hashes = [base64.b64decode(h) for h in report["checkpoint"]["proof"]]
    scales.ConsistencyProof(old.size, checkpoint.size, proof_hashes).check(
        old.root_hash, checkpoint.root_hash
    )
    forged = kept.replace(f"\n{old.size}\n", f"\n{old.size - 1}\n")
    refused = loaded.call("POST", "/api/audit/verify", role="auditor", json={"checkpoint": forged})
    assert refused.status_code == 422 and "does not verify" in refused.text
    assert "checkpoint" in refused.text
    for role, status in (("analyst", 403), (None, 401)):
        assert loaded.get("/api/audit/key", role=role).status_code == status
        assert loaded.get("/api/audit/proof?position=1", role=role).status_code == status
    far = loaded.get("/api/audit/proof", role="auditor", params={"position": 999})
    assert far.status_code == 404 and "no event at position 999" in far.text
