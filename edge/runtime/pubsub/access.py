"""Which topics this app may publish to and subscribe to on one component:
allowedTopics, protectedTopics, publishingScopes and subscriptionScopes,
read as Dapr reads them."""

from __future__ import annotations

from dataclasses import dataclass


def _topics(text: str) -> list[str]:
    """Comma-separated topics; Dapr ignores spaces anywhere in the list."""
    text = text.replace(" ", "")
    return list(dict.fromkeys(text.split(","))) if text else []


def scoped_topics(scopes: str, app_id: str) -> list[str]:
    """The topics `app=t1,t2;other=...` names for app_id. `app=` names the
    empty topic only, which matches none: the app may use no topic at all."""
    found: list[str] = []
    for entry in scopes.replace(" ", "").split(";"):
        app, sep, topics = entry.partition("=")
        if sep and app == app_id:
            found += [t for t in topics.split(",") if t not in found]
    return found


@dataclass(frozen=True)
class TopicAccess:
    allowed: tuple[str, ...] = ()
    protected: tuple[str, ...] = ()
    publishing: tuple[str, ...] = ()
    subscribing: tuple[str, ...] = ()

    @classmethod
    def from_metadata(cls, meta: dict[str, str], app_id: str) -> TopicAccess:
        def value(name: str) -> str:
            return str(meta.get(name) or "")

        return cls(tuple(_topics(value("allowedTopics"))),
                   tuple(_topics(value("protectedTopics"))),
                   tuple(scoped_topics(value("publishingScopes"), app_id)),
                   tuple(scoped_topics(value("subscriptionScopes"), app_id)))

    def may_publish(self, topic: str) -> bool:
        return self._allowed(topic, self.publishing)

    def may_subscribe(self, topic: str) -> bool:
        return self._allowed(topic, self.subscribing)

    def _allowed(self, topic: str, scoped: tuple[str, ...]) -> bool:
        if self.allowed and topic not in self.allowed:
            return False
        # Without scopes for this app every topic is open, unless protected.
        if not scoped and topic not in self.protected:
            return True
        return topic in scoped
