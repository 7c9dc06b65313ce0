"""Pub/sub in the sidecar: publishing, subscriptions and delivery to the app."""

from edge.runtime.pubsub.runtime import PubSubRuntime

__all__ = ["PubSubRuntime"]
