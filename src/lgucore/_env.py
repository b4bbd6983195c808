"""The one place that reads LGUCORE_NO_EXTENSIONS at import time."""
import os

NO_EXTENSIONS: bool = os.environ.get("LGUCORE_NO_EXTENSIONS", "") not in ("", "0")
