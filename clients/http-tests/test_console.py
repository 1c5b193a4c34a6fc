"""Browser test of meterd's web console in a real headless Chromium (Selenium).

Signs in, adds the product guide's tokens_used meter through the Add Meter form (after an
invalid event name and before a duplicate one, each with the server's message shown next to
the field), sends events over the HTTP API, and sees the usage on the meter page and each
event's outcome in the event debugger. Set METERD_HTTP to the server's base URL; set
METERD_SCREENSHOTS to a directory to save screenshots of the main pages.
"""
import datetime
import decimal
import json
import os
import urllib.request

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

BASE = os.environ.get("METERD_HTTP", "http://127.0.0.1:7880").rstrip("/")
API_KEY = os.environ["METERD_API_KEY"]
SCREENSHOTS = os.environ.get("METERD_SCREENSHOTS")
SOCKET = os.environ["METERD_SOCKET"]


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"]:
        options.add_argument(argument)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path="/usr/bin/chromedriver"), options=options)
    yield driver
    driver.quit()


def wait_for(driver, css):
    return WebDriverWait(driver, 10).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css)))


def screenshot(driver, name, width=1280):
    if not SCREENSHOTS:
        return
    os.makedirs(SCREENSHOTS, exist_ok=True)
    driver.set_window_size(width, 1000)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, max(height + 140, 600))
    driver.save_screenshot(os.path.join(SCREENSHOTS, f"{name}.png"))
    driver.set_window_size(1280, 1000)


def fill_add_meter(driver, event_name, display_name="Tokens Used"):
    driver.get(BASE + "/console/meters/new")
    wait_for(driver, "#add-meter-form")
    for field, value in [("event_name", event_name), ("display_name", display_name), ("aggregation_value", "tokens")]:
        element = driver.find_element(By.ID, field)
        element.clear()
        element.send_keys(value)
    keys = driver.find_elements(By.NAME, "filter_key")
    values = driver.find_elements(By.NAME, "filter_values")
    keys[0].clear()
    keys[0].send_keys("model")
    values[0].clear()
    values[0].send_keys("llama3.1, llama3.2")
    Select(driver.find_element(By.ID, "aggregation")).select_by_value("SUM")
    driver.find_element(By.ID, "type_periodic").click()
    Select(driver.find_element(By.ID, "period")).select_by_value("MONTHLY")


def send_events(events, content_type="application/cloudevents-batch+json"):
    request = urllib.request.Request(BASE + "/api/v1/events", data=json.dumps(events).encode(), method="POST",
                                     headers={"Content-Type": content_type, "Authorization": f"Bearer {API_KEY}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_sign_in_add_meter_send_events_and_see_usage(browser):
    driver = browser
    driver.get(BASE + "/console")
    wait_for(driver, "#api_key")  # not signed in: the console sends us to the sign-in page
    assert driver.current_url.endswith("/console/sign-in")
    driver.find_element(By.ID, "api_key").send_keys("mk_not-a-key")
    driver.find_element(By.ID, "sign-in").click()
    assert "not valid" in wait_for(driver, "#sign-in-error").text
    wait_for(driver, "#api_key").send_keys(API_KEY)
    driver.find_element(By.ID, "sign-in").click()
    wait_for(driver, "#add-meter")
    screenshot(driver, "console-meters-empty")

    # An invalid event name: the server's message appears next to the field, the typed values stay.
    fill_add_meter(driver, "Tokens Used!")
    driver.find_element(By.ID, "save-meter").click()
    error = wait_for(driver, "#error-event_name")
    assert 'event name "Tokens Used!" is invalid' in error.text, error.text
    assert driver.find_element(By.ID, "display_name").get_attribute("value") == "Tokens Used"

    # The guide's meter, field by field.
    fill_add_meter(driver, "tokens_used")
    screenshot(driver, "console-add-meter")
    driver.find_element(By.ID, "save-meter").click()
    notice = wait_for(driver, "#created-notice")
    assert "Active" in notice.text
    assert driver.find_element(By.ID, "meter-title").text == "Tokens Used"
    meter_url = driver.current_url.split("?")[0]

    # The same event name again: refused with the binary protocol's message.
    fill_add_meter(driver, "tokens_used", display_name="Tokens again")
    driver.find_element(By.ID, "save-meter").click()
    error = wait_for(driver, "#error-event_name")
    assert 'an active meter already uses event name "tokens_used"' in error.text, error.text

    # The list shows the meter as active.
    driver.get(BASE + "/console")
    row = wait_for(driver, 'tr[data-event-name="tokens_used"]')
    assert "Active" in row.text

    # Events over HTTP: counted, filtered out, a retry (duplicate) and one rejected.
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    def event(event_id, model, tokens, time=now):
        return {"specversion": "1.0", "id": event_id, "source": "browser-test", "type": "tokens_used", "subject": "acme",
                "time": time, "data": {"model": model, "tokens": tokens}}
    answer = send_events([event("evt-1", "llama3.1", 1250), event("evt-2", "llama3.2", 25.5), event("evt-3", "alpaca2.0", 999),
                          event("evt-1", "llama3.1", 1250), event("evt-4", "llama3.1", 1, time="not a time")])
    assert [result["status"] for result in answer["results"]] == ["ACCEPTED", "ACCEPTED", "ACCEPTED", "DUPLICATE", "REJECTED"], answer

    # One more over the binary protocol (clients/python on the Unix socket, as the socket's owner).
    from meterclient import Client, Event
    minute = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
    with Client.connect(f"unix:{SOCKET}", tenant="default", timeout=10.0) as client:
        binary = client.ingest_batch([Event("evt-binary-1", "tokens_used", "globex", minute,
                                            {"model": "llama3.2", "tokens": decimal.Decimal("0.5")})])
    assert [result.status.name for result in binary] == ["ACCEPTED"]

    driver.get(meter_url)
    assert wait_for(driver, "#current-usage").text == "1276"
    bars = driver.find_elements(By.CSS_SELECTOR, "#usage-chart rect.bar")
    assert sum(decimal.Decimal(bar.get_attribute("data-value")) for bar in bars) == decimal.Decimal("1276")
    top = driver.find_element(By.ID, "top-customers").text
    assert "acme" in top and "globex" in top
    screenshot(driver, "console-meter")

    driver.get(BASE + "/console/events")
    table = wait_for(driver, "#events").text
    assert "Accepted: counted" in table
    assert "Accepted: filtered out" in table
    assert "Duplicate" in table
    assert "Rejected: INVALID_TIMESTAMP" in table
    assert "evt-binary-1" in table and "(binary)" in table
    screenshot(driver, "console-event-debugger")

    # Phone width: the meters list and the form stay usable (no horizontal overflow of the page).
    driver.set_window_size(390, 900)
    driver.get(BASE + "/console/meters/new")
    wait_for(driver, "#add-meter-form")
    overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the Add Meter page is {overflow}px wider than a phone screen"
    if SCREENSHOTS:
        driver.save_screenshot(os.path.join(SCREENSHOTS, "console-add-meter-phone.png"))
    driver.set_window_size(1280, 1000)
