"""A city's investment promotion from first letter to signed contract, in Chromium, only through the
pages, once in English on SQLite and once in Chinese on PostgreSQL (the reader's language for every
person in it, so each store sees each page in one language and each language is walked end to end).

The organizer of the city's bureau writes the letter to investors and a module page, uploads the
promotional film, and sends invitation letters to a three-line CSV. One invitee follows the link in
their letter, creates an account from it, files a project and asks a question. The bureau answers,
moves the project through screening to negotiating, schedules an online meeting, moves it to signing
and opens the cloud-signing ceremony; both parties sign; the project shows signed with its
certificate, and the promotion dashboard and its CSV files count exactly what happened.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlmodel import select

from expo.config import Settings
from expo.db import utcnow
from expo.mail.models import OutboxMessage
from tests.booths.web import PASSWORD
from tests.conftest import LiveServer, make_settings
from tests.journeys.conftest import Reader, flashed, new_tab, sign_in
from tests.promotion.conftest import seed_expos
from tests.promotion.test_browser import make_film
from tests.promotion.test_project_rooms_browser import sign
from tests.signing.conftest import make_pdf

ORGANIZER = "org@example.com"  # runs the expo "city" (tests.promotion.conftest.seed_expos)
INVITEES = [
    ("Anna Berg", "anna@nordlicht.example", "Nordlicht Batteries"),
    ("Li Wei", "li.wei@haiyun.example", "Haiyun Logistics"),
    ("Marta Ruiz", "marta@solara.example", "Solara Glass"),
]
LETTER = re.compile(r"http://\S+(/expos/city/invest/invited/\S+)")


@pytest.fixture
def settings(reader: Reader, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """English on SQLite, Chinese on PostgreSQL; links in letters lead back to the live server."""
    from tests.conftest import free_port

    public_url = f"http://127.0.0.1:{free_port()}"
    if reader.chinese:
        return make_settings(
            tmp_path, public_url=public_url, database_url=request.getfixturevalue("postgres_url")
        )
    return make_settings(tmp_path, public_url=public_url)


async def write_the_site(page: Page, server: LiveServer, reader: Reader) -> None:
    """The letter, the film and a section of the "city overview" module."""
    t = reader.t
    await page.goto(server.url + "/organizer/expos/city/invest")
    await page.fill("#letter_title", "Dear investors")
    await page.fill("#letter_body", "Shenzhen welcomes you: our bureau serves every project to its opening.")
    await page.fill("#letter_signatory", "Bureau of Commerce")
    await page.fill("#letter_title_zh_Hans", "致投资者的一封信")
    await page.fill("#letter_body_zh_Hans", "深圳欢迎您：商务局全程服务每一个项目。")  # noqa: RUF001
    await page.get_by_role("button", name=t("Save the letter")).click()
    await flashed(page, t("The letter was saved."))
    await page.set_input_files(
        'form:has(input[value="film"]) input[type="file"]',
        files=[{"name": "film.webm", "mimeType": "video/webm", "buffer": make_film()}],
    )
    async with page.expect_navigation():
        await page.locator('form:has(input[value="film"]) button[type="submit"]').click()
    await flashed(page, t("The file was uploaded."))

    await page.goto(server.url + "/organizer/expos/city/invest/city")
    await page.fill("#new-heading", "A market of 17 million")
    await page.fill("#new-body", "Consumers, suppliers and the world's fourth busiest port.")
    await page.fill("#new-heading_zh_Hans", "一千七百万人的市场")
    await page.get_by_role("button", name=t("Add the section")).click()
    await flashed(page, t("The section was added."))


async def send_the_letters(page: Page, server: LiveServer, reader: Reader) -> None:
    t = reader.t
    language = "zh" if reader.chinese else "en"
    lines = ["name,email,company,language", *(f"{n},{e},{c},{language}" for n, e, c in INVITEES)]
    await page.goto(server.url + "/organizer/expos/city/invitations")
    await page.locator("#invitees-file").set_input_files(
        files=[{"name": "investors.csv", "mimeType": "text/csv", "buffer": "\n".join(lines).encode()}]
    )
    await page.get_by_role("button", name=t("Preview"), exact=True).click()
    await expect(page.locator(".invitation-preview tbody tr")).to_have_count(3)
    await page.get_by_role("button", name=t("Send the letters (%(num)s)") % {"num": 3}).click()
    await flashed(page, t("The invitations were sent."))
    await expect(page.locator('.invitation-funnel [data-stage="sent"] .value')).to_have_text("3")


async def letter_link(server: LiveServer, email: str) -> str:
    """The link in the invitee's letter, as their mail program shows it."""

    async def read() -> str:
        async with server.app.state.platform.db.session() as session:
            letters = (
                await session.exec(select(OutboxMessage).where(OutboxMessage.to_address == email))
            ).all()
        assert len(letters) == 1, letters
        found = LETTER.search(letters[0].body)
        assert found is not None, letters[0].body
        return found.group(1)

    return server.call(read())


async def test_an_invitation_ends_in_a_signed_project(
    live_server: LiveServer, browser: Browser, reader: Reader, tmp_path: Path
) -> None:
    t = reader.t
    base = live_server.url
    live_server.call(seed_expos(live_server.app))
    errors: list[str] = []
    name, email, company = INVITEES[0]

    org_context, org = await new_tab(browser, reader, errors, "organizer")
    await sign_in(org, live_server, reader, ORGANIZER)
    await write_the_site(org, live_server, reader)
    await send_the_letters(org, live_server, reader)

    # The invitee opens their letter's link: greeted by name, with the letter; signs up from it.
    investor_context, investor = await new_tab(browser, reader, errors, "investor")
    await investor.goto(base + await letter_link(live_server, email))
    await expect(investor.locator("#welcome")).to_have_text(t("Welcome, %(name)s") % {"name": name})
    letter_title = "致投资者的一封信" if reader.chinese else "Dear investors"
    await expect(investor.locator("#letter-title")).to_have_text(letter_title)
    await investor.fill("#name", name)
    await expect(investor.locator("#email")).to_have_value(email)
    await investor.fill("#password", PASSWORD)
    await investor.get_by_role("button", name=t("Sign up")).click()
    await flashed(investor, t("Your account is ready. Welcome!"))

    # Files a project and asks a question.
    await investor.goto(base + "/expos/city/invest/projects/new")
    await investor.fill("#company", company)
    await investor.fill("#sector", "Energy storage")
    await investor.select_option("#country", "DE")
    await investor.fill("#amount", "150000000")
    await investor.select_option("#currency", "EUR")
    await investor.fill("#jobs", "650")
    await investor.fill("#timeline", "Building in 2027, production in 2028")
    await investor.get_by_role("button", name=t("File the project")).click()
    await flashed(investor, t("Your project was filed. The bureau will be in touch."))
    project_url = investor.url
    assert re.search(r"/expos/city/invest/projects/\d+$", project_url), project_url
    project_id = int(project_url.rsplit("/", 1)[1])
    await investor.goto(base + "/expos/city/invest/consulting/questions")
    await investor.select_option("#category", "land")
    await investor.fill("#subject", "Land for a battery plant")
    await investor.fill("#body", "Is an industrial parcel of 80,000 m2 available near the port?")
    await investor.get_by_role("button", name=t("Send the question")).click()
    await flashed(investor, t("Your question was sent to the bureau."))

    # The bureau answers the question...
    await org.goto(base + "/organizer/expos/city/consulting")
    await org.get_by_role("link", name="Land for a battery plant").click()
    await org.fill("#body", "Yes: parcel 7 in the Qianhai zone, 82,000 m2. Let us meet.")
    await org.get_by_role("button", name=t("Send the answer")).click()
    await expect(org.locator('.thread-item[data-from="team"]')).to_have_count(1)

    # ... moves the project through screening to negotiating and schedules a meeting ...
    bureau_url = f"{base}/organizer/expos/city/projects/{project_id}"
    await org.goto(bureau_url)
    for stage in ("screening", "negotiating"):
        await org.select_option("#stage", stage)
        await org.get_by_role("button", name=t("Move"), exact=True).click()
        await expect(org.locator(".project-status .project-stage")).to_have_attribute("data-stage", stage)
    start = (utcnow() + timedelta(days=3)).strftime("%Y-%m-%dT10:00")
    await org.fill("#meeting-starts_at", start)
    await org.fill("#meeting-title", "Site visit")
    await org.get_by_role("button", name=t("Schedule the meeting")).click()
    await expect(org.locator(".project-meeting")).to_contain_text("Site visit")
    await investor.goto(project_url)
    await expect(investor.locator(".project-meeting a[data-room-link]")).to_have_attribute(
        "href", re.compile(r"^/rooms/\d+\?key=")
    )

    # ... and at the signing stage opens the ceremony and puts the contract in it.
    await org.select_option("#stage", "signing")
    await org.get_by_role("button", name=t("Move"), exact=True).click()
    await expect(org.locator(".project-status .project-stage")).to_have_attribute("data-stage", "signing")
    await org.fill("#ceremony-signer_name", "Olga Org")
    await org.get_by_role("button", name=t("Open the signing ceremony")).click()
    await org.get_by_role("link", name=t("Upload the contract and see the parties")).click()
    contract = make_pdf(f"Investment agreement: {company} and the City of Shenzhen.")
    digest = hashlib.sha256(contract).hexdigest()
    (tmp_path / "agreement.pdf").write_bytes(contract)
    await org.locator('form[action$="/documents"] input[type="file"]').set_input_files(
        str(tmp_path / "agreement.pdf")
    )
    await org.locator('form[action$="/documents"] button[type="submit"]').click()
    await expect(org.locator("body")).to_contain_text(digest)

    # Both sign: the bureau in the signing room, the investor from their link; the moment shows.
    await org.goto(bureau_url)
    await org.get_by_role("link", name=t("Open the signing room as host")).click()
    await expect(org.locator("#signing-panel")).to_have_attribute("data-state", "open")
    await sign(org, "Olga Org")
    await investor.goto(project_url)
    await investor.get_by_role("link", name=t("Read and sign the contract")).click()
    await expect(investor.locator("#signing-panel")).to_have_attribute("data-state", "open")
    await sign(investor, name)
    await expect(investor.locator("#ceremony-moment")).to_be_visible()

    for page, url in ((org, bureau_url), (investor, project_url)):
        await page.goto(url)
        await expect(page.locator(".project-status .project-stage")).to_have_attribute("data-stage", "signed")
        await expect(page.locator("[data-sha256]")).to_have_text(digest)
    await investor.locator("a[data-certificate]").click()
    await expect(investor.locator("body")).to_contain_text(digest)

    # The dashboard counts what happened, and so do its CSV files.
    await org.goto(base + "/organizer/expos/city/dashboard/promotion")
    await expect(org.locator('[data-figure="projects"]')).to_have_text("1")
    await expect(org.locator('tr[data-stage="signed"] [data-field="projects"]')).to_have_text("1")
    await expect(org.locator('tr[data-stage="signed"] [data-currency="EUR"]')).to_contain_text("150")
    funnel = {"sent": "3", "opened": "1", "registered": "1", "filed": "1"}
    for step, count in funnel.items():
        await expect(org.locator(f'tr[data-step="{step}"] [data-field="invitations"]')).to_have_text(count)
    await expect(org.locator('tr[data-category="land"] [data-field="answered"]')).to_have_text("1")
    await expect(org.locator('[data-figure="waiting"]')).to_have_text("0")

    async def table(name: str) -> list[dict[str, str]]:
        response = await org.request.get(f"{base}/organizer/expos/city/dashboard/promotion/{name}.csv")
        assert response.ok, name
        return list(csv.DictReader(io.StringIO(await response.text())))

    assert {r["step"]: r["invitations"] for r in await table("funnel")} == funnel
    stages = {r["stage"]: r for r in await table("stages")}
    assert stages["signed"]["projects"] == "1" and stages["signed"]["amount_EUR"] == "150000000"
    assert all(r["projects"] == "0" for s, r in stages.items() if s != "signed")
    consulting = {r["category"]: r for r in await table("consulting")}
    assert consulting["land"]["answered"] == "1" and consulting["all"]["questions"] == "1"

    await investor_context.close()
    await org_context.close()
    assert errors == []
