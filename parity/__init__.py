"""parity: prove an image model predicts the same behind its deployment preprocessing as in training."""

__version__ = "0.1.0"

from parity.api import check  # noqa: E402
from parity.compare import Tolerance  # noqa: E402
from parity.errors import ParityError  # noqa: E402
from parity.report import Report  # noqa: E402

__all__ = ["check", "Report", "Tolerance", "ParityError", "__version__"]
