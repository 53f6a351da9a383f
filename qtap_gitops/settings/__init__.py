"""Typed stack settings from the `qtap:*` configuration of one stack.

The same model serves the Pulumi program (config handed over by the engine) and the offline
tools (config read from `Pulumi.<stack>.yaml`): both give it a `RawStackConfig`, where every
value is the engine's string form (objects as JSON text). Every key is declared once, in
`model.py` (sections) and `stack.py` (the top level); `check.py` turns what pydantic refuses
into `Problem`s; `qtapctl/settings_docs.py` writes `Pulumi.yaml`'s `config:` block and the
README's table from the same declarations. Secret values never stay in the settings; only
whether they are present. The rest of the program imports what it needs from here (`X as X` is an explicit
re-export); the other declarations stay in their modules.
"""

from .check import check_settings as check_settings
from .check import kms_region_problems as kms_region_problems
from .check import parse_settings as parse_settings
from .model import DEFAULT_ARGOCD_DESTINATION as DEFAULT_ARGOCD_DESTINATION
from .model import DEFAULT_NAMESPACE as DEFAULT_NAMESPACE
from .model import MAX_RING as MAX_RING
from .model import ArgoCdDeliverySettings as ArgoCdDeliverySettings
from .model import ArgoCdSettings as ArgoCdSettings
from .model import ChartSettings as ChartSettings
from .model import DeliveryMode as DeliveryMode
from .model import EksSettings as EksSettings
from .model import FleetSettings as FleetSettings
from .model import FluxDeliverySettings as FluxDeliverySettings
from .model import FluxSettings as FluxSettings
from .model import IdentityMode as IdentityMode
from .model import SealedSecretsBackendSettings as SealedSecretsBackendSettings
from .model import SealedSecretsScope as SealedSecretsScope
from .model import SecretsBackend as SecretsBackend
from .model import VaultSettings as VaultSettings
from .model import default_snapshot_path as default_snapshot_path
from .raw import CONFIG_BLOCK as CONFIG_BLOCK
from .raw import NAMESPACE as NAMESPACE
from .raw import RawStackConfig as RawStackConfig
from .raw import position_of as position_of
from .raw import set_secret_command as set_secret_command
from .stack import TOP_LEVEL_KEYS as TOP_LEVEL_KEYS
from .stack import StackSettings as StackSettings
