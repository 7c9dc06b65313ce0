"""bindings.mqtt3 fixtures: the pub/sub MQTT tests' real Mosquitto per test."""

from tests.pubsub.mqtt.conftest import broker, brokers

__all__ = ["broker", "brokers"]
