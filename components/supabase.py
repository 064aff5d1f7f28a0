"""Kept so that stack state written before the plane packages can still unpickle its dynamic provider.

Pulumi stores the Edge Function secrets provider in the state, pickled by reference to the module
that defined it (`components.supabase`). The provider now lives in `components.secrets.edge_functions`;
a `pulumi destroy` or a delete of a resource last written by the old program imports it from here.
"""

from components.secrets.edge_functions import *  # noqa: F403
from components.secrets.edge_functions import EdgeFunctionSecretsProvider  # noqa: F401 - the pickled name
