"""hivemind's DHT modules without hivemind's package ``__init__`` files.

``import hivemind.dht.node`` first runs ``hivemind/__init__.py`` (averaging, mixture of experts,
optimizers), ``hivemind/dht/__init__.py`` (the DHT process class) and ``hivemind/utils/__init__.py``,
which imports ``mpfuture`` and ``tensor_descr`` and with them torch: about 1.7 s on a small machine, all
for a command that only reads a few DHT keys. The DHT node itself needs none of it.

:func:`lazy_package` puts a stand-in module in place of such a package before anything imports it. The
stand-in has the package's path, so its submodules import as usual; names the package's ``__init__``
would re-export come from the submodules listed for them; and the first name that is not listed runs the
real ``__init__`` in the stand-in, so ``hivemind.X`` and ``from hivemind.utils import X`` keep working
for every other caller in the process.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Mapping
from typing import Any

# names the DHT node, its protocol and the record validators take from ``hivemind.utils``
_UTILS_EXPORTS = {
    "MSGPackSerializer": "serializer",
    "SerializerBase": "serializer",
    "get_logger": "logging",
    "get_dht_time": "timed_storage",
    "DHTExpiration": "timed_storage",
    "ValueWithExpiration": "timed_storage",
    "TimedStorage": "timed_storage",
    "MAX_DHT_TIME_DISCREPANCY_SECONDS": "timed_storage",
    "as_aiter": "asyncio",
    "amap_in_executor": "asyncio",
    "enter_asynchronously": "asyncio",
    "switch_to_uvloop": "asyncio",
}


def lazy_package(name: str, exports: Mapping[str, str] | None = None) -> None:
    """Stand in for package ``name`` until something needs more of it than ``exports`` (re-exported
    name -> the submodule that defines it). Does nothing when the package is imported already."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    package = types.ModuleType(name)
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    package.__file__ = spec.origin
    package.__loader__ = spec.loader
    if "." in name:
        parent, _, child = name.rpartition(".")
        if parent in sys.modules:
            setattr(sys.modules[parent], child, package)
    table = dict(exports or {})

    def complete(attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        submodule = sys.modules.get(f"{name}.{attr}")
        if submodule is not None:  # a submodule still importing (``import hivemind.p2p.x as y``)
            return submodule
        if attr in table:
            value = getattr(importlib.import_module(f"{name}.{table[attr]}"), attr)
            setattr(package, attr, value)
            return value
        package.__dict__.pop("__getattr__", None)
        spec.loader.exec_module(package)  # type: ignore[union-attr]
        return getattr(package, attr)

    package.__getattr__ = complete  # type: ignore[method-assign]
    sys.modules[name] = package


def light_hivemind() -> None:
    """Stand-ins for the hivemind packages whose ``__init__`` files import torch or the whole library."""
    lazy_package("hivemind")
    lazy_package("hivemind.utils", _UTILS_EXPORTS)
    lazy_package("hivemind.dht", {"DHTNode": "node", "DHTID": "routing", "DHTValue": "routing"})


def dht_node_class() -> Any:
    """hivemind's ``DHTNode`` (the asyncio node, no DHT process), imported without torch."""
    light_hivemind()
    from hivemind.dht.node import DHTNode

    return DHTNode
