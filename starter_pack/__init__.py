"""The starter pack: 11 SaaS metrics as YAML, and the demo database their SQL runs on."""

from pathlib import Path

METRICS_DIR = Path(__file__).resolve().parent / "metrics"
LABEL = "starter_pack"

__all__ = ["LABEL", "METRICS_DIR"]
