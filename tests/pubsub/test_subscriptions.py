"""Sidecars of their own: declarative Subscription files and their scopes,
topic scopes on components, bad subscriptions, and an app that goes away."""

from __future__ import annotations

import time

from tests.harness import free_port
from tests.pubsub.helpers import FAST, Subscriber, in_memory, subscription_doc, write_docs

APP = "orders"


def start(spawn, tmp_path, docs, subscriptions=None, answers=None, app_id=APP):
    resources = tmp_path / "resources"
    write_docs(resources / "resources.yaml", *docs)
    app = spawn.track(Subscriber(tmp_path, subscriptions, answers))
    sidecar = spawn.sidecar(app_id, resources, app_port=app.port, wait="ready")
    return app, sidecar


def publish(sidecar, topic, pubsub="bus", **kwargs):
    with sidecar.client() as http:
        return http.post(f"/v1.0/publish/{pubsub}/{topic}", json=kwargs or {"n": 1})


def test_declarative_subscriptions_of_both_versions(spawn, tmp_path):
    docs = [
        in_memory("bus", **FAST),
        subscription_doc("v1", "bus", "first", version="v1alpha1", route="/first",
                         scopes=[APP, "other"]),
        subscription_doc("v2", "bus", "second", routes={
            "rules": [{"match": "event.data.size > 10", "path": "/big"}], "default": "/small"},
            deadLetterTopic="dead", metadata={"note": "x"}),
        subscription_doc("not-mine", "bus", "third", route="/third", version="v1alpha1",
                         scopes=["other"]),
        subscription_doc("overridden", "bus", "fourth", route="/declared", version="v1alpha1"),
    ]
    app, sidecar = start(spawn, tmp_path, docs,
                         [{"pubsubname": "bus", "topic": "fourth", "route": "/programmatic"}])
    for topic, data in (("first", {}), ("second", {"size": 50}), ("second", {"size": 1}),
                        ("third", {}), ("fourth", {})):
        assert publish(sidecar, topic, **data).status_code == 204
    assert app.wait_for(1, "first")[0]["path"] == "/first"
    assert [r["path"] for r in app.wait_for(2, "second")] == ["/big", "/small"]
    # The app's own subscription replaces the declared one for the same topic.
    assert app.wait_for(1, "fourth")[0]["path"] == "/programmatic"
    time.sleep(0.2)
    assert not app.received("third")

    with sidecar.client() as http:
        listed = http.get("/v1.0/metadata").json()["subscriptions"]
    by_topic = {s["topic"]: s for s in listed}
    assert set(by_topic) == {"first", "second", "fourth"}
    assert by_topic["first"] == {"pubsubname": "bus", "topic": "first",
                                 "rules": [{"path": "/first"}], "deadLetterTopic": "",
                                 "type": "DECLARATIVE"}
    assert by_topic["second"]["rules"] == [{"match": "event.data.size > 10", "path": "/big"},
                                           {"path": "/small"}]
    assert by_topic["second"]["deadLetterTopic"] == "dead"
    assert by_topic["second"]["metadata"] == {"note": "x"}
    assert by_topic["fourth"]["type"] == "PROGRAMMATIC"
    assert by_topic["fourth"]["rules"] == [{"path": "/programmatic"}]


def test_topic_scopes_of_a_component(spawn, tmp_path):
    docs = [in_memory("bus", allowedTopics="open,pub-only,sub-only,shut",
                      publishingScopes=f"{APP}=open,pub-only;other=shut",
                      subscriptionScopes=f"{APP}=open,sub-only", **FAST),
            in_memory("guarded", protectedTopics="secret", **FAST),
            in_memory("closed", publishingScopes=f"{APP}=", **FAST)]
    subscriptions = [{"pubsubname": "bus", "topic": t, "route": f"/{t}"}
                     for t in ("open", "pub-only", "sub-only", "elsewhere")]
    app, sidecar = start(spawn, tmp_path, docs, subscriptions)

    assert publish(sidecar, "open").status_code == 204
    app.wait_for(1, "open")
    # Published, but this app may not subscribe to it: nobody gets it.
    assert publish(sidecar, "pub-only").status_code == 204
    for topic, pubsub in (("sub-only", "bus"), ("elsewhere", "bus"), ("shut", "bus"),
                          ("secret", "guarded"), ("anything", "closed")):
        reply = publish(sidecar, topic, pubsub)
        assert reply.status_code == 403, (topic, reply.text)
        assert reply.json()["errorCode"] == "ERR_PUBSUB_FORBIDDEN"
        assert f"topic {topic} is not allowed for app id {APP}" in reply.json()["message"]
    with sidecar.client() as http:
        bulk = http.post("/v1.0-alpha1/publish/bulk/guarded/secret", json=[])
    assert bulk.status_code == 403
    time.sleep(0.2)
    assert not app.received("pub-only")
    assert "subscription to bus/pub-only not started" in sidecar.output()
    assert "subscription to bus/elsewhere not started" in sidecar.output()


def test_bad_rule_in_a_subscription_file_stops_the_sidecar(spawn, tmp_path):
    resources = tmp_path / "resources"
    path = write_docs(resources / "subs.yaml", in_memory("bus"), subscription_doc(
        "broken", "bus", "t", routes={"rules": [{"match": "event.data >", "path": "/x"}]}))
    sidecar = spawn.sidecar("app", resources, wait="")
    assert sidecar.proc.wait(15) == 1
    output = sidecar.output()
    assert f"file {path}" in output
    assert "subscription 'broken'" in output
    assert "spec.routes.rules[0].match" in output
    assert "not a valid CEL expression" in output


def test_subscription_file_without_route_stops_the_sidecar(spawn, tmp_path):
    resources = tmp_path / "resources"
    write_docs(resources / "subs.yaml", in_memory("bus"),
               subscription_doc("lost", "bus", "t", version="v1alpha1"))
    sidecar = spawn.sidecar("app", resources, wait="")
    assert sidecar.proc.wait(15) == 1
    assert "subscription 'lost': no route" in sidecar.output()


def test_bad_app_subscriptions_are_skipped_with_a_clear_error(spawn, tmp_path):
    subscriptions = [
        {"pubsubname": "bus", "topic": "bad-rule",
         "routes": {"rules": [{"match": "event.type ==", "path": "/x"}]}},
        {"pubsubname": "bus", "route": "/no-topic"},
        "not an object",
        {"pubsubname": "nosuch", "topic": "t", "route": "/t"},
        {"pubsubname": "bus", "topic": "bad#filter", "route": "/t"},
        {"pubsubName": "bus", "Topic": "good", "route": "/good"},
    ]
    app, sidecar = start(spawn, tmp_path, [in_memory("bus", **FAST)], subscriptions)
    assert publish(sidecar, "good").status_code == 204
    app.wait_for(1, "good")
    output = sidecar.output()
    assert "subscription #1 (topic 'bad-rule') is skipped (routes.rules[0].match)" in output
    assert "not a valid CEL expression" in output
    assert "subscription #2 (topic None) is skipped (topic): topic is missing" in output
    assert "no pub/sub component named nosuch is loaded" in output
    assert "subscription to bus/bad#filter could not start" in output


def test_app_without_subscriptions_is_fine(spawn, tmp_path):
    _, sidecar = start(spawn, tmp_path, [in_memory("bus")], None)
    assert publish(sidecar, "nobody-listens").status_code == 204
    with sidecar.client() as http:
        assert "subscriptions" not in http.get("/v1.0/metadata").json()


def test_sidecar_without_app_publishes(spawn, tmp_path):
    resources = tmp_path / "resources"
    write_docs(resources / "r.yaml", in_memory("bus"),
               subscription_doc("s", "bus", "t", version="v1alpha1", route="/t"))
    sidecar = spawn.sidecar("lonely", resources, wait="ready")
    assert publish(sidecar, "t").status_code == 204
    with sidecar.client() as http:
        [listed] = http.get("/v1.0/metadata").json()["subscriptions"]
    assert listed["type"] == "DECLARATIVE"


def test_events_wait_for_an_app_that_went_away(spawn, tmp_path):
    app, sidecar = start(spawn, tmp_path, [in_memory("bus", backOffMaxRetries=1, **FAST)],
                         [{"pubsubname": "bus", "topic": "jobs", "route": "/jobs"}])
    app.stop()
    for n in range(3):
        assert publish(sidecar, "jobs", n=n).status_code == 204
    time.sleep(0.5)  # several redeliveries fail while the app is away
    # Unreachable is not a refusal: the retry limit does not apply.
    back = spawn.track(Subscriber(tmp_path, [{"pubsubname": "bus", "topic": "jobs",
                                              "route": "/jobs"}], port=app.port))
    got = back.wait_for(3, "jobs")
    assert [r["json"]["data"]["n"] for r in got] == [0, 1, 2]
    assert "dropped" not in sidecar.output()


def test_shutdown_with_an_event_in_redelivery_is_prompt(spawn, tmp_path):
    app, sidecar = start(spawn, tmp_path, [in_memory("bus")],
                         [{"pubsubname": "bus", "topic": "stuck", "route": "/stuck"}],
                         answers={"stuck": ["500"] * 100})
    assert publish(sidecar, "stuck").status_code == 204
    app.wait_for(1, "stuck")
    began = time.monotonic()
    assert sidecar.stop() == 0
    assert time.monotonic() - began < 5


def test_unused_port_for_app_never_blocks_publishing(spawn, tmp_path):
    resources = tmp_path / "resources"
    write_docs(resources / "r.yaml", in_memory("bus"))
    sidecar = spawn.sidecar("waiting", resources, app_port=free_port())
    assert publish(sidecar, "t").status_code == 204
