"""An existing Kasm API client (PyPI `kasm`, unchanged) runs the Developer API flow against a
running Berth: a key made through Admin -> Developers' server function, then create_user ->
request_kasm -> get_kasm_status until running -> keepalive -> exec_command_kasm ->
get_kasm_screenshot -> join_kasm -> the kasm_url opens the session -> destroy_kasm ->
delete_user. The client parses every answer into its own objects (dates with
datetime.fromisoformat, ids, statuses), so a wrong field name or format fails here.

Needs BERTH_URL and BERTH_ADMIN_PASSWORD (./scripts/test provides them) and Docker with the
session images. Exits non-zero on the first failed check.
"""
import os
import sys
import time
import uuid

import requests
from kasm.connections import connections
from kasm.images import Image
from kasm.sessions import Session
from kasm.users import User

BASE = os.environ["BERTH_URL"].rstrip("/")
checks = {"passed": 0, "failed": 0}


def check(what, condition, detail=""):
    if condition:
        checks["passed"] += 1
        print(f"ok   {what}")
    else:
        checks["failed"] += 1
        print(f"FAIL {what} {detail}")
        summary()
        sys.exit(1)


def summary():
    print(f"kasm client flow: {checks['passed']} passed, {checks['failed']} failed")


def api_key():
    """Signs in as admin and makes a key, as the Developers page does."""
    browser = requests.Session()
    signed_in = browser.post(
        f"{BASE}/rpc/login",
        data={"username": "admin", "password": os.environ["BERTH_ADMIN_PASSWORD"]},
    )
    check("admin signs in", signed_in.status_code == 200, signed_in.text)
    made = browser.post(
        f"{BASE}/rpc/admin/create_api_key",
        data={
            "name": "kasm client compat",
            "permissions": "User, Users Auth Session, Users View, Users Create, Users Modify, "
            "Users Delete, Sessions View, Sessions Modify, Images View",
            "read_only": "false",
            "expires": "",
        },
    )
    check("an API key is made", made.status_code == 200, made.text)
    body = made.json()
    return body["api_key"], body["api_key_secret"]


def opens_as(url, path_prefix):
    """Opens a kasm_url the way a browser does: it signs in and redirects to the session."""
    browser = requests.Session()
    answer = browser.get(url, allow_redirects=False)
    location = answer.headers.get("location", "")
    check(f"the link redirects to {path_prefix}", answer.status_code == 303 and location.startswith(path_prefix),
          f"{answer.status_code} {location}")
    return browser, location


def main():
    key, secret = api_key()
    connections.create_connection("default", url=BASE + "/", key=key, secret=secret)
    client = connections.get_connection()

    desktop = next((image for image in Image.all() if image.friendly_name == "Desktop"), None)
    check("get_images lists Desktop", desktop is not None)
    suffix = uuid.uuid4().hex[:8]
    user = User.create(username=f"kasmclient{suffix}", password="kasm-client-password", first_name="Kay")
    check("create_user", user.username == f"kasmclient{suffix}" and user.created is not None)
    viewer = User.create(username=f"kasmviewer{suffix}", password="kasm-viewer-password")
    check("get_user by name", User.get(username=user.username).user_id == user.user_id)

    session = Session.request(user, desktop, enable_sharing=True, environment={"FROM_KASM_CLIENT": "yes"})
    check("request_kasm starts a session", session.status == "starting", repr(session.status))
    deadline = time.time() + 120
    while session.status != "running":
        check("the session starts in time", time.time() < deadline)
        time.sleep(0.5)
        session = session.update_status()
    check("get_kasm_status: running with dates", session.created_date is not None
          and session.expiration_date is not None and session.container_id)
    before = session.expiration_date
    session = session.keepalive()
    check("keepalive keeps the expiration at least as late", session.expiration_date >= before)
    listed = Session.all()
    check("get_kasms parses with its user and image", any(s.session_id == session.session_id for s in listed))

    ran = client.sessions.execute(user.user_id, session.session_id, "echo hi; echo $FROM_KASM_CLIENT", "/tmp").json()
    check("exec_command_kasm returns the output", ran.get("stdout") == "hi\nyes\n" and ran.get("exit_code") == 0, ran)
    session.execute("touch /tmp/from-kasm-client", "/tmp")
    check("the client's execute() ran", client.sessions.execute(
        user.user_id, session.session_id, "test -f /tmp/from-kasm-client", "/").json().get("exit_code") == 0)

    shot = requests.post(f"{BASE}/api/public/get_kasm_screenshot", json={
        "api_key": key, "api_key_secret": secret, "user_id": user.user_id,
        "kasm_id": session.session_id, "width": 400, "height": 400})
    check("get_kasm_screenshot is a JPEG", shot.status_code == 200
          and shot.headers.get("content-type") == "image/jpeg" and shot.content[:2] == b"\xff\xd8")

    # The session's own link signs a fresh browser in as the user.
    # (the client may add display options to the link; they must not break it)
    browser, location = opens_as(session.url(disable_tips=True), "/session/")
    kasm_id = location.rsplit("/", 1)[-1]
    # Signed in as the owner: the session's status answers (the desktop's page is Berth's own
    # /viewer.html; under /desktop/ only the stream's WebSocket is reached).
    status = browser.post(f"{BASE}/rpc/sessions/status", data={"session_id": kasm_id},
                          headers={"Accept": "application/json"}, allow_redirects=False)
    check("the signed-in browser reaches its session", status.status_code == 200
          and status.json().get("status") == "running", (status.status_code, status.text[:200]))

    join_url = session.join(viewer)
    check("join_kasm gives a link", join_url is not None)
    opens_as(join_url, "/join/")

    session.destroy()
    deadline = time.time() + 30
    while any(s.session_id == session.session_id for s in Session.all()):
        check("destroy_kasm ends the session", time.time() < deadline)
        time.sleep(0.5)
    check("destroy_kasm ends the session", True)
    user.delete()
    viewer.delete()
    check("delete_user", all(u.user_id not in (user.user_id, viewer.user_id) for u in User.all()))
    summary()


if __name__ == "__main__":
    main()
