"""``hp``: the search-space constructors (``from parzen import hp``)."""

from .pyll_utils import hp_choice as choice  # noqa: F401
from .pyll_utils import hp_lognormal as lognormal  # noqa: F401
from .pyll_utils import hp_loguniform as loguniform  # noqa: F401
from .pyll_utils import hp_normal as normal  # noqa: F401
from .pyll_utils import hp_pchoice as pchoice  # noqa: F401
from .pyll_utils import hp_qlognormal as qlognormal  # noqa: F401
from .pyll_utils import hp_qloguniform as qloguniform  # noqa: F401
from .pyll_utils import hp_qnormal as qnormal  # noqa: F401
from .pyll_utils import hp_quniform as quniform  # noqa: F401
from .pyll_utils import hp_randint as randint  # noqa: F401
from .pyll_utils import hp_uniform as uniform  # noqa: F401
from .pyll_utils import hp_uniformint as uniformint  # noqa: F401
