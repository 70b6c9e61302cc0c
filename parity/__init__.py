"""parity: prove an image model predicts the same behind its deployment preprocessing as in training."""

__version__ = "0.1.0"

from parity.api import Candidate, check, compare  # noqa: E402
from parity.assertions import assert_parity  # noqa: E402
from parity.compare import Tolerance  # noqa: E402
from parity.errors import ParityError  # noqa: E402
from parity.report import Report  # noqa: E402

__all__ = ["assert_parity", "check", "compare", "Candidate", "Report", "Tolerance", "ParityError", "__version__"]
