"""Anonymous tokens, bearer auth, sessions, claim tokens, credits, unknown routes."""

from __future__ import annotations

import time

import httpx

from .support import Nemo, arm, stats


def test_anonymous_token_needs_a_client_id(http: httpx.Client) -> None:
    r = http.post("/api/auth/anonymous-token")
    assert r.status_code == 400 and r.json()["code"] == 400


def test_anonymous_token_shape(nemo: Nemo) -> None:
    data = nemo.anonymous()["data"]
    assert data["token"].startswith("nmv_usr_")
    assert data["credits"] == 100
    assert abs(data["expires_in"] - 7 * 86400) < 5
    assert abs(data["expires_at"] - time.time() - 7 * 86400) < 5
    assert set(data["scopes"]) == {"read", "write", "upload"}


def test_same_client_id_same_token(nemo: Nemo) -> None:
    first = nemo.anonymous("client-1")["data"]["token"]
    assert nemo.anonymous("client-1")["data"]["token"] == first
    assert nemo.anonymous("client-2")["data"]["token"] != first
    assert stats(nemo.http)["tokens_issued"] == 2


def test_new_client_ids_per_address_are_capped(nemo: Nemo) -> None:
    nemo.http.post("/_sandbox/config", json={"tokens_per_ip": 2}).raise_for_status()
    nemo.anonymous("a")
    nemo.anonymous("b")
    r = nemo.http.post("/api/auth/anonymous-token", headers={"X-Client-Id": "c"})
    assert r.status_code == 429 and r.json()["code"] == 429
    assert int(r.headers["Retry-After"]) > 0
    assert nemo.anonymous("a")["code"] == 0  # a known client id still gets its token


def test_missing_unknown_and_expired_tokens_are_1001(nemo: Nemo, http: httpx.Client) -> None:
    r = http.get("/api/credits/balance/simple")
    assert r.status_code == 401 and r.json()["code"] == 1001
    nemo.token = "nmv_usr_unknown"
    r = nemo.get("/api/credits/balance/simple")
    assert r.status_code == 401 and r.json()["code"] == 1001
    nemo.registered(expires_in=0)
    assert nemo.get("/api/credits/balance/simple").json()["code"] == 1001


def test_scopes_of_registered_tokens_are_enforced(nemo: Nemo) -> None:
    nemo.registered(scopes=["read"])
    r = nemo.post("/api/tasks/me/with-session/nemo_agent", {"task_name": "p"})
    assert r.status_code == 403 and r.json()["code"] == 403
    assert nemo.get("/api/credits/balance/simple").json()["code"] == 0


def test_session_and_claim_token(nemo: Nemo) -> None:
    nemo.anonymous()
    r = nemo.post(
        "/api/tasks/me/with-session/nemo_agent", {"task_name": "project", "language": "en"}
    )
    data = r.json()["data"]
    assert r.json()["code"] == 0 and data["session_id"] and data["task_id"]
    claim = nemo.post(
        "/api/auth/claim-token", {"task_id": data["task_id"], "session_id": data["session_id"]}
    )
    body = claim.json()["data"]
    assert body["claim_token"].startswith("clm_") and body["expires_in"] == 604800
    assert body["claim_url"] == f"https://nemovideo.com/workspace/claim?ct={body['claim_token']}"


def test_claim_token_for_an_unknown_session_is_1002(nemo: Nemo) -> None:
    nemo.anonymous()
    nemo.new_session()
    r = nemo.post("/api/auth/claim-token", {"task_id": nemo.task_id, "session_id": "nope"})
    assert r.json()["code"] == 1002


def test_new_session_state_is_empty(nemo: Nemo) -> None:
    nemo.anonymous()
    nemo.new_session()
    r = nemo.get(f"/api/state/nemo_agent/me/{nemo.session_id}/latest")
    assert r.json()["code"] == 0
    state = r.json()["data"]["state"]
    assert state["draft"] is None and state["video_infos"] == [] and state["generated_media"] == []
    assert set(state["canvas_config"]) == {"width", "height", "ratio"}


def test_balance(nemo: Nemo) -> None:
    nemo.anonymous()
    assert nemo.balance() == {"available": 100, "frozen": 0, "total": 100}


def test_unknown_route_is_an_enveloped_404(http: httpx.Client) -> None:
    r = http.get("/api/nothing/here")
    assert r.status_code == 404 and r.json()["code"] == 404 and "message" in r.json()


def test_a_renewed_anonymous_token_is_the_same_user(nemo: Nemo) -> None:
    first = nemo.anonymous("renewing-client")["data"]
    nemo.new_session()
    arm(nemo.http, "credits", "token_expired")
    assert nemo.get("/api/credits/balance/simple").json()["code"] == 1001
    again = nemo.anonymous("renewing-client")["data"]
    assert again["token"] != first["token"] and again["user_id"] == first["user_id"]
    state = nemo.get(f"/api/state/nemo_agent/me/{nemo.session_id}/latest").json()
    assert state["code"] == 0  # the session survived the renewal
