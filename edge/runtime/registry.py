"""The component types this build knows: one line per type."""

from __future__ import annotations

from edge.components.base import Component
from edge.components.bindings.cron import CronBinding
from edge.components.bindings.gpio import GpioBinding
from edge.components.bindings.http import HttpBinding
from edge.components.bindings.localstorage import LocalStorageBinding
from edge.components.bindings.modbus import ModbusBinding
from edge.components.bindings.mqtt3 import MqttBinding
from edge.components.bindings.serial import SerialBinding
from edge.components.configuration.local_file import FileConfigurationStore
from edge.components.configuration.sqlite import SQLiteConfigurationStore
from edge.components.lock.inmemory import InMemoryLockStore
from edge.components.lock.sqlite import SQLiteLockStore
from edge.components.pubsub.inmemory import InMemoryPubSub
from edge.components.pubsub.mqtt3 import MqttPubSub
from edge.components.secretstores.local_env import EnvSecretStore
from edge.components.secretstores.local_file import FileSecretStore
from edge.components.state.inmemory import InMemoryStateStore
from edge.components.state.sqlite import SQLiteStateStore

COMPONENT_TYPES: dict[str, type[Component]] = {
    cls.type_name: cls
    for cls in (
        SQLiteStateStore,
        InMemoryStateStore,
        FileSecretStore,
        EnvSecretStore,
        InMemoryPubSub,
        MqttPubSub,
        CronBinding,
        HttpBinding,
        LocalStorageBinding,
        MqttBinding,
        ModbusBinding,
        SerialBinding,
        GpioBinding,
        SQLiteConfigurationStore,
        FileConfigurationStore,
        SQLiteLockStore,
        InMemoryLockStore,
    )
}

SUPPORTED_VERSIONS = ("v1", "")
