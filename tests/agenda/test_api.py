"""The agenda API: organizers write the timetable, everyone reads it, visitors take seats over
HTTP (a thousand at once for the last seats on a real server), organizers read attendance."""

from __future__ import annotations

import httpx

from tests.conftest import signup_and_login

PROGRAM = {
    "title": "Opening keynote",
    "description": "Where the fair is heading.",
    "speakers": [{"name": "Li Wei", "title": "CEO", "company": "Acme"}],
    "track": "Main",
    "stage": "Stage A",
    "starts_at": "2030-04-15T09:00:00",  # no offset: the expo's timezone (Asia/Shanghai)
    "ends_at": "2030-04-15T10:00:00",
    "capacity": 2,
}


async def organizer_with_expo(client: httpx.AsyncClient) -> dict[str, str]:
    headers = await signup_and_login(client, "org@example.com", role="organizer")
    r = await client.post(
        "/api/expos", json={"slug": "fair", "title": "Fair", "timezone": "Asia/Shanghai"}, headers=headers
    )
    assert r.status_code == 201, r.text
    return headers


async def test_organizer_writes_the_timetable_everyone_reads_it(client: httpx.AsyncClient) -> None:
    org = await organizer_with_expo(client)
    r = await client.post("/api/expos/fair/programs", json=PROGRAM, headers=org)
    assert r.status_code == 201, r.text
    program = r.json()
    assert program["starts_at"] == "2030-04-15T01:00:00Z"  # 09:00 in Shanghai is 01:00 UTC
    assert program["seats_left"] == 2 and program["timezone"] == "Asia/Shanghai"
    assert program["ics_url"] == f"/expos/fair/agenda/{program['id']}.ics"

    listed = (await client.get("/api/expos/fair/programs", params={"day": "2030-04-15"})).json()
    assert [p["title"] for p in listed["items"]] == ["Opening keynote"]
    assert (await client.get("/api/expos/fair/programs", params={"day": "2030-04-16"})).json()["items"] == []

    r = await client.patch(
        f"/api/programs/{program['id']}", json={"capacity": 5, "track": "Keynotes"}, headers=org
    )
    assert r.status_code == 200 and r.json()["seats_left"] == 5 and r.json()["track"] == "Keynotes"
    assert (await client.get(f"/api/programs/{program['id']}")).json()["title"] == "Opening keynote"


async def test_bad_programs_are_refused_with_json_errors(client: httpx.AsyncClient) -> None:
    org = await organizer_with_expo(client)
    visitor = await signup_and_login(client, "v@example.com")
    backwards = {**PROGRAM, "ends_at": "2030-04-15T08:00:00"}
    r = await client.post("/api/expos/fair/programs", json=backwards, headers=org)
    assert r.status_code == 422 and r.json()["error"]["code"] == "program.ends_before_start"
    r = await client.post("/api/expos/fair/programs", json={**PROGRAM, "capacity": 0}, headers=org)
    assert r.status_code == 422
    r = await client.post(
        "/api/expos/fair/programs", json={**PROGRAM, "room_url": "javascript:alert(1)"}, headers=org
    )
    assert r.status_code == 422
    r = await client.post("/api/expos/fair/programs", json={**PROGRAM, "hall_id": 9999}, headers=org)
    assert r.status_code == 422 and r.json()["error"]["code"] == "program.unknown_hall"
    r = await client.post("/api/expos/fair/programs", json=PROGRAM, headers=visitor)
    assert r.status_code == 403
    assert (await client.post("/api/expos/fair/programs", json=PROGRAM)).status_code == 401
    assert (await client.get("/api/programs/4242")).status_code == 404
    assert (await client.post("/api/programs/4242/registration", headers=visitor)).json()["error"][
        "code"
    ] == ("program.unknown")


async def test_moving_a_program_to_a_hall_or_broadcast_that_does_not_exist_is_422(
    client: httpx.AsyncClient,
) -> None:
    """Regression (found by the fuzzer): the unknown hall reached the store before it was checked,
    and the foreign key failed as a 500."""
    org = await organizer_with_expo(client)
    program = (await client.post("/api/expos/fair/programs", json=PROGRAM, headers=org)).json()
    for body, code in (
        ({"hall_id": 9999}, "program.unknown_hall"),
        ({"stream_id": 9999}, "program.unknown_stream"),
        ({"hall_id": 9999, "stream_id": 9999, "title": "Moved"}, "program.unknown_hall"),
    ):
        r = await client.patch(f"/api/programs/{program['id']}", json=body, headers=org)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == code
    unchanged = (await client.get(f"/api/programs/{program['id']}")).json()
    assert unchanged["hall_id"] is None and unchanged["title"] == "Opening keynote"


async def test_a_day_is_asked_for_as_a_date_not_a_number(client: httpx.AsyncClient) -> None:
    await organizer_with_expo(client)
    for day in ("0", "20300415", "2030-4-15", "2030-02-30"):
        r = await client.get("/api/expos/fair/programs", params={"day": day})
        assert r.status_code == 422, (day, r.text)
    assert (await client.get("/api/expos/fair/programs", params={"day": "2030-04-15"})).status_code == 200


async def test_another_organizers_expo_is_off_limits(client: httpx.AsyncClient) -> None:
    org = await organizer_with_expo(client)
    pid = (await client.post("/api/expos/fair/programs", json=PROGRAM, headers=org)).json()["id"]
    other = await signup_and_login(client, "other-org@example.com", role="organizer")
    assert (
        await client.patch(f"/api/programs/{pid}", json={"title": "Mine"}, headers=other)
    ).status_code == 403
    assert (await client.delete(f"/api/programs/{pid}", headers=other)).status_code == 403
    assert (await client.get(f"/api/programs/{pid}/attendees", headers=other)).status_code == 403


async def test_register_waitlist_cancel_and_attendance(client: httpx.AsyncClient) -> None:
    org = await organizer_with_expo(client)
    pid = (await client.post("/api/expos/fair/programs", json=PROGRAM, headers=org)).json()["id"]
    a, b, c = [await signup_and_login(client, f"{n}@example.com") for n in "abc"]
    url = f"/api/programs/{pid}/registration"

    assert (await client.post(url, headers=a)).json() == {"status": "confirmed", "position": None}
    assert (await client.post(url, headers=b)).json() == {"status": "confirmed", "position": None}
    assert (await client.post(url, headers=c)).json() == {"status": "waitlisted", "position": 1}
    assert (await client.post(url, headers=c)).json() == {"status": "waitlisted", "position": 1}
    assert (await client.get(url, headers=c)).json() == {"status": "waitlisted", "position": 1}
    assert (await client.get(f"/api/programs/{pid}")).json()["seats_left"] == 0

    assert (await client.delete(url, headers=a)).json() == {"status": "cancelled", "position": None}
    assert (await client.get(url, headers=c)).json() == {"status": "confirmed", "position": None}
    assert (await client.get(url, headers=a)).status_code == 404

    people = (await client.get(f"/api/programs/{pid}/attendees", headers=org)).json()["items"]
    assert [(p["email"], p["status"]) for p in people] == [
        ("b@example.com", "confirmed"),
        ("c@example.com", "confirmed"),
        ("a@example.com", "cancelled"),
    ]
    c_id = people[1]["user_id"]
    r = await client.put(
        f"/api/programs/{pid}/attendees/{c_id}/attended", json={"attended": True}, headers=org
    )
    assert r.status_code == 200 and r.json()["attended_at"] is not None
    r = await client.put(
        f"/api/programs/{pid}/attendees/{people[2]['user_id']}/attended", json={"attended": True}, headers=org
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "program.no_seat"
    # An organizer cancels b; nobody waits, so the seat stays free.
    assert (
        await client.delete(f"/api/programs/{pid}/attendees/{people[0]['user_id']}", headers=org)
    ).status_code == 204
    assert (await client.get(f"/api/programs/{pid}")).json()["seats_left"] == 1


async def test_agenda_routes_are_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/api/openapi.json")).json()["paths"]
    assert "/api/programs/{program_id}/registration" in paths
    assert {"post", "delete", "get"} <= set(paths["/api/programs/{program_id}/registration"])
    assert "/api/expos/{slug}/programs" in paths


async def test_the_calendar_link_is_read_and_replaced_over_the_api(client: httpx.AsyncClient) -> None:
    ann = await signup_and_login(client, "ann@example.com")
    bob = await signup_and_login(client, "bob@example.com")
    assert (await client.get("/api/me/agenda/feed")).status_code == 401
    first = await client.get("/api/me/agenda/feed", headers=ann)
    assert first.status_code == 200
    old = first.json()["url"]
    assert old.startswith("http://testserver/agenda/feed/") and old.endswith(".ics")
    assert (await client.get("/api/me/agenda/feed", headers=ann)).json()["url"] == old
    assert (await client.get("/api/me/agenda/feed", headers=bob)).json()["url"] != old
    assert (await client.get(old)).status_code == 200

    replaced = await client.post("/api/me/agenda/feed", headers=ann)
    assert replaced.status_code == 200
    new = replaced.json()["url"]
    assert new != old and (await client.get("/api/me/agenda/feed", headers=ann)).json()["url"] == new
    gone = await client.get(old)
    assert gone.status_code == 404
    calendar = await client.get(new)
    assert calendar.status_code == 200 and calendar.text.startswith("BEGIN:VCALENDAR")
    assert (await client.post("/api/me/agenda/feed")).status_code == 401
