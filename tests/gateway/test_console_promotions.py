"""The operator's campaign and coupon template forms: the graph's commands and validation, a
preview of who a campaign reaches before it starts, refusals shown with what was typed."""

from __future__ import annotations

from sqlalchemy import select

from infra.models import audit_log, campaigns, coupon_templates, members
from tests.factories import a_member
from tests.gateway.test_console import a_person, csrf_of, signed_in

CAMPAIGN = {"code": "gold-weekend", "name": "Gold weekend", "starts_at": "2030-05-01T00:00",
            "ends_at": "2030-05-03T00:00", "multiplier": "2", "bonus_points": "",
            "tiers": "GOLD"}  # fmt: skip


async def test_an_operator_previews_a_campaigns_audience_then_schedules_it(app, db):
    await a_person(db, "ops@example.com")
    gold = [await a_member(db, f"Gold {n}") for n in range(3)]
    await a_member(db, "Silver Sue")
    async with db.transaction() as conn:
        await conn.execute(members.update().where(members.c.id.in_([m.id for m in gold]))
                           .values(tier="GOLD"))  # fmt: skip
    async with signed_in(app, "ops@example.com") as http:
        form = await http.get("/console/promotions/campaigns/new")
        preview = await http.post("/console/promotions/campaigns/preview",
                                  data={**CAMPAIGN, "csrf": csrf_of(form)})  # fmt: skip
        created = await http.post("/console/promotions/campaigns",
                                  data={**CAMPAIGN, "csrf": csrf_of(preview)})  # fmt: skip

    assert form.status_code == 200 and "Create the campaign" in form.text
    assert preview.status_code == 200
    assert "Who it would reach now: 3 active members" in preview.text
    assert 'value="gold-weekend"' in preview.text  # the form keeps what was typed
    assert created.status_code == 303 and created.headers["location"] == "/console/promotions"
    async with db.read() as conn:
        row = (await conn.execute(select(campaigns))).one()
        named = audit_log.c.action.in_(["console.create_campaign", "console.preview_campaign"])
        actions = list(await conn.scalars(select(audit_log.c.action).where(named)))
    assert (row.code, row.tiers, row.multiplier, row.status) == ("gold-weekend", "GOLD", 2,
                                                                 "ACTIVE")  # fmt: skip
    # the preview changed nothing and wrote no row; the creation wrote its own
    assert actions == ["console.create_campaign"]


async def test_a_refused_campaign_shows_why_and_keeps_what_was_typed(app, db):
    await a_person(db, "ops@example.com")
    async with signed_in(app, "ops@example.com") as http:
        form = await http.get("/console/promotions/campaigns/new")
        backwards = await http.post("/console/promotions/campaigns", data={
            **CAMPAIGN, "ends_at": "2030-04-01T00:00", "csrf": csrf_of(form)})  # fmt: skip
        garbled = await http.post("/console/promotions/campaigns", data={
            **CAMPAIGN, "starts_at": "next tuesday", "csrf": csrf_of(form)})  # fmt: skip
        nothing = await http.post("/console/promotions/campaigns/preview", data={
            **CAMPAIGN, "multiplier": "1", "csrf": csrf_of(form)})  # fmt: skip

    assert backwards.status_code == 422 and "a campaign starts before it ends" in backwards.text
    assert 'value="Gold weekend"' in backwards.text
    assert garbled.status_code == 422 and "YYYY-MM-DDTHH:MM" in garbled.text
    assert nothing.status_code == 422 and "multiplies points, adds some" in nothing.text
    async with db.read() as conn:
        assert list(await conn.execute(select(campaigns))) == []


async def test_an_operator_creates_a_coupon_template(app, db):
    await a_person(db, "ops@example.com")
    async with signed_in(app, "ops@example.com") as http:
        form = await http.get("/console/promotions/templates/new")
        created = await http.post("/console/promotions/templates", data={
            "code": "five-off", "name": "5 off 50", "kind": "AMOUNT_OFF", "amount_off": "5.00",
            "threshold": "50", "valid_hours": "168", "channels": ["ONLINE", "OFFLINE"],
            "csrf": csrf_of(form)})  # fmt: skip
        refused = await http.post("/console/promotions/templates", data={
            "code": "odd", "name": "Odd", "kind": "PERCENT_OFF", "percent_off": "250",
            "csrf": csrf_of(form)})  # fmt: skip
        listed = await http.get("/console/promotions")

    assert created.status_code == 303
    assert refused.status_code == 422 and 'role="alert"' in refused.text
    async with db.read() as conn:
        row = (await conn.execute(select(coupon_templates))).one()
    assert (row.code, row.kind, row.channels, row.valid_hours) == (
        "five-off", "AMOUNT_OFF", "OFFLINE,ONLINE", 168)  # fmt: skip
    assert "five-off" in listed.text and "New coupon template" in listed.text


async def test_an_operator_edits_pauses_and_ends_a_campaign_and_retires_a_template(app, db):
    await a_person(db, "ops@example.com")
    async with signed_in(app, "ops@example.com") as http:
        form = await http.get("/console/promotions/campaigns/new")
        await http.post("/console/promotions/campaigns", data={**CAMPAIGN, "csrf": csrf_of(form)})
        await http.post("/console/promotions/templates", data={
            "code": "five-off", "name": "5 off", "kind": "AMOUNT_OFF", "amount_off": "5.00",
            "valid_hours": "24", "csrf": csrf_of(form)})  # fmt: skip
        async with db.read() as conn:
            made = (await conn.execute(select(campaigns))).one()
            template = (await conn.execute(select(coupon_templates))).one()
        path, template_path = (f"/console/promotions/campaigns/{made.id}",
                               f"/console/promotions/templates/{template.id}")  # fmt: skip
        edit = await http.get(f"{path}/edit")
        token = {"csrf": csrf_of(edit)}
        refused = await http.post(f"{path}/edit", data={
            "name": "Gold weekend", "starts_at": "2030-05-01T00:00",
            "ends_at": "2030-04-01T00:00", "multiplier": "2", "csrf": csrf_of(edit)})  # fmt: skip
        saved = await http.post(f"{path}/edit", data={
            "name": "Gold long weekend", "starts_at": "2030-05-01T00:00",
            "ends_at": "2030-05-04T00:00", "multiplier": "3", "points_budget": "5000",
            "csrf": csrf_of(edit)})  # fmt: skip
        paused = await http.post(f"{path}/pause", data=token)
        while_paused = await http.get("/console/promotions")
        await http.post(f"{path}/resume", data=token)
        await http.post(f"{path}/end", data=token)
        resume_ended = await http.post(f"{path}/resume", data=token)
        retired = await http.post(f"{template_path}/retire", data=token)
        missing = await http.get("/console/promotions/campaigns/999/edit")

    assert edit.status_code == 200
    assert 'value="2030-05-01T00:00"' in edit.text and 'value="Gold weekend"' in edit.text
    assert refused.status_code == 422 and "a campaign starts before it ends" in refused.text
    assert 'value="2030-04-01T00:00"' in refused.text  # what was typed stays
    assert saved.status_code == 303 and paused.status_code == 303
    assert "PAUSED" in while_paused.text and "Resume: gold-weekend" in while_paused.text
    assert resume_ended.status_code == 409 and "has ended" in resume_ended.text
    assert retired.status_code == 303 and missing.status_code == 404
    async with db.read() as conn:
        row = (await conn.execute(select(campaigns))).one()
        retired_row = (await conn.execute(select(coupon_templates))).one()
        actions = list(await conn.execute(
            select(audit_log.c.action, audit_log.c.target, audit_log.c.outcome)
            .where(audit_log.c.target.like("/promotions/%/%/%"))
            .order_by(audit_log.c.id)))  # fmt: skip
    assert (row.name, row.multiplier, row.points_budget, row.status) == (
        "Gold long weekend", 3, 5000, "ENDED")  # fmt: skip
    assert retired_row.status == "RETIRED"
    assert [(a.action, a.outcome) for a in actions] == [
        ("console.update_campaign", "REFUSED"), ("console.update_campaign", "OK"),
        ("console.pause_campaign", "OK"), ("console.resume_campaign", "OK"),
        ("console.end_campaign", "OK"), ("console.resume_campaign", "REFUSED"),
        ("console.retire_coupon_template", "OK"),
    ]  # fmt: skip
    # each row names the campaign or template by its address
    assert {a.target.split()[0].rsplit("/", 1)[0] for a in actions} == {
        path.removeprefix("/console"), template_path.removeprefix("/console")}  # fmt: skip
