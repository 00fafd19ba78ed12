#!/usr/bin/env python3
"""The live map (GET /map) in a real browser: headless Chromium driven by Selenium.

    map_check.py BASE_URL OUTPUT_DIR            the checks below; exit 1 on the first failure
    map_check.py BASE_URL OUTPUT_DIR --draw-only  only the 16,000-zone drawing figures

BASE_URL is a running engine's (or query server's) HTTP endpoint with a live market,
e.g. http://127.0.0.1:8080. What it checks, as a person would see it:
  1. the page weighs <= 200 KB and loads with no console error;
  2. at least 50 zones are drawn, in at least 3 distinct legend colours (read back from
     the canvas pixels, not from the page's own account);
  3. a real click on a zone shows the same entries, in the same order, with the same
     ETAs, as GET /v1/zones/{zone}/rankings at the same version, with restaurant names;
  4. ten seconds later the page shows a newer version of that zone than at first, without
     reloading;
and it saves a screenshot (OUTPUT_DIR/map.png). It also times drawing 16,000 zones
(performance.now() in the page) against the same zones as absolutely positioned DOM
nodes, and prints both: a figure, not a check.
"""
import json
import os
import sys
import time
import urllib.request

PAGE_BUDGET_BYTES = 200 * 1024


def fail(message):
    print(f"map_check: FAILED: {message}", flush=True)
    sys.exit(1)


def note(message):
    print(f"map_check: {message}", flush=True)


try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
except ImportError:
    fail("Python's selenium is missing: run scripts/setup --test (pip install selenium)")

CHROMIUM = os.environ.get("AMORE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("AMORE_CHROMEDRIVER", "/usr/bin/chromedriver")
for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
    if not os.access(path, os.X_OK):
        fail(f"{path} is missing: run scripts/setup --test (apt-get install {package})")


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def wait_for(what, condition, timeout_s, interval_s=0.2):
    """Polls `condition` until it returns something truthy; fails naming `what`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,900",
                     "--disable-gpu", "--hide-scrollbars"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


# The same 16,000 zones as DOM nodes: the design the canvas replaced, measured in the
# same page and run (style, layout and paint forced by reading a layout property and
# waiting for the next frame).
DOM_BASELINE = """
const n = arguments[0], done = arguments[arguments.length - 1];
const box = document.createElement('div');
box.style.cssText = 'position:fixed;left:0;top:0;width:1000px;height:800px;overflow:hidden';
document.body.appendChild(box);
const side = Math.ceil(Math.sqrt(n)), w = 1000 / side, h = 800 / side;
const t0 = performance.now();
for (let i = 0; i < n; i++) {
  const d = document.createElement('div');
  d.style.cssText = `position:absolute;left:${(i % side) * w}px;top:${Math.floor(i / side) * h}px;` +
    `width:${w}px;height:${h}px;background:hsl(${i % 120},70%,50%)`;
  box.appendChild(d);
}
void box.offsetHeight;
requestAnimationFrame(() => { const ms = performance.now() - t0; box.remove(); done(ms); });
"""


def draw_figures(driver, zones=16_000, runs=5):
    canvas = []
    dom = []
    for _ in range(runs):
        result = driver.execute_script(f"return window.amoreMap.benchmarkDraw({zones});")
        if result["drawn"] != zones:
            fail(f"the drawing benchmark drew {result['drawn']} of {zones} zones")
        canvas.append(result["median_ms"])
        dom.append(driver.execute_async_script(DOM_BASELINE, zones))
    canvas.sort()
    dom.sort()
    median_canvas, median_dom = canvas[runs // 2], dom[runs // 2]
    note(f"drawing {zones:,} zones: canvas median {median_canvas:.1f} ms (runs {', '.join(f'{t:.1f}' for t in canvas)}); "
         f"as DOM nodes median {median_dom:.1f} ms (runs {', '.join(f'{t:.1f}' for t in dom)}); "
         f"canvas/DOM = {median_canvas / median_dom:.3f}")


def console_errors(driver):
    return [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]


def main():
    if len(sys.argv) < 3:
        fail("usage: map_check.py BASE_URL OUTPUT_DIR [--draw-only]")
    base, output = sys.argv[1].rstrip("/"), sys.argv[2]
    draw_only = "--draw-only" in sys.argv[3:]
    os.makedirs(output, exist_ok=True)

    with urllib.request.urlopen(f"{base}/map", timeout=10) as response:
        page = response.read()
        if response.status != 200 or not response.headers.get("Content-Type", "").startswith("text/html"):
            fail(f"GET /map answered {response.status} {response.headers.get('Content-Type')}")
    note(f"page weight {len(page):,} bytes (budget {PAGE_BUDGET_BYTES:,})")
    if len(page) > PAGE_BUDGET_BYTES:
        fail(f"the page weighs {len(page):,} bytes, over {PAGE_BUDGET_BYTES:,}")

    driver = browser()
    try:
        driver.get(f"{base}/map?refresh_ms=500")
        state = "window.amoreMap && window.amoreMap.state"
        wait_for("the map to draw 50 zones",
                 lambda: driver.execute_script(f"return {state} && {state}.drawnZones >= 50"), timeout_s=60)
        if draw_only:
            draw_figures(driver)
            return

        # 2. Colours as drawn: the canvas pixel at each zone's centre, against the legend's swatches.
        sampled = driver.execute_script("""
            const map = window.amoreMap, canvas = document.getElementById('zones');
            const ctx = canvas.getContext('2d'), scale = canvas.width / canvas.clientWidth;
            const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
            const legend = [...document.querySelectorAll('#legend .swatch')].map(s => getComputedStyle(s).backgroundColor);
            const colours = {};
            for (const id of map.state.zones.keys()) {
              const r = map.zoneRect(id);
              if (!r || r.w < 3 || r.h < 3) continue;
              const x = Math.floor((r.x + r.w / 2) * scale), y = Math.floor((r.y + r.h / 2) * scale);
              if (x < 0 || y < 0 || x >= canvas.width || y >= canvas.height) continue;
              const i = 4 * (y * canvas.width + x);
              colours[id] = `rgb(${pixels[i]}, ${pixels[i + 1]}, ${pixels[i + 2]})`;
            }
            return {legend, colours};
        """)
        legend = set(sampled["legend"])
        in_legend = {zone: colour for zone, colour in sampled["colours"].items() if colour in legend}
        distinct = set(in_legend.values())
        note(f"{len(in_legend)} zones drawn in legend colours, {len(distinct)} distinct: {sorted(distinct)}")
        if len(in_legend) < 50:
            fail(f"only {len(in_legend)} zones show a legend colour at their centre (want >= 50)")
        if len(distinct) < 3:
            fail(f"zones are drawn in {len(distinct)} distinct colours (want >= 3)")

        # 3. Click the zone with the most restaurants (busy zones republish often).
        zones = driver.execute_script(f"return [...{state}.zones.entries()].map(([id, z]) => [id, z.matching, z.best_s])")
        candidates = sorted((z for z in zones if z[2] is not None and z[0] in in_legend), key=lambda z: -z[1])
        if not candidates:
            fail("no drawn zone has a ranking to click")
        zone = candidates[0][0]
        overlay = driver.find_element(By.ID, "overlay")
        rect = driver.execute_script("return window.amoreMap.zoneRect(arguments[0])", zone)
        size = overlay.size
        ActionChains(driver).move_to_element_with_offset(
            overlay, int(rect["x"] + rect["w"] / 2 - size["width"] / 2), int(rect["y"] + rect["h"] / 2 - size["height"] / 2)
        ).click().perform()
        wait_for(f"the panel to show zone {zone}",
                 lambda: driver.execute_script("const e = document.getElementById('panel-zone'); return e && e.textContent") == zone,
                 timeout_s=10)

        market = driver.execute_script(f"return {state}.market")
        names = {r["restaurant_id"]: r["name"] for r in get_json(f"{base}/v1/markets/{market}/restaurants")["restaurants"]}

        def panel():
            return driver.execute_script("""
                const version = Number(document.getElementById('panel-version').textContent);
                const entries = [...document.querySelectorAll('#panel li.entry')].map(li => ({
                  restaurant_id: li.dataset.restaurantId, delivery_eta_s: Number(li.dataset.deliveryEtaS),
                  carry_out_ready_s: Number(li.dataset.carryOutReadyS), name: li.querySelector('.name').textContent,
                  rank: Number(li.querySelector('.rank').textContent)}));
                return {version, entries};
            """)

        def same_version():
            shown = panel()
            served = get_json(f"{base}/v1/zones/{zone}/rankings?mode=delivery&limit=50")
            return (shown, served) if shown["version"] == served["version"] else None

        shown, served = wait_for(f"the panel and the endpoint to agree on zone {zone}'s version", same_version, timeout_s=20)
        want = [(e["restaurant_id"], e["delivery_eta_s"], e["carry_out_ready_s"]) for e in served["entries"]]
        got = [(e["restaurant_id"], e["delivery_eta_s"], e["carry_out_ready_s"]) for e in shown["entries"]]
        if got != want:
            fail(f"zone {zone} v{served['version']}: the page shows {got[:5]}... the endpoint {want[:5]}...")
        if [e["rank"] for e in shown["entries"]] != list(range(1, len(want) + 1)):
            fail("ranks are not 1..n in order")
        wrong_names = [e for e in shown["entries"] if e["name"] != names.get(e["restaurant_id"], e["restaurant_id"])]
        if wrong_names:
            fail(f"names do not match the profiles: {wrong_names[:3]}")
        note(f"zone {zone} v{served['version']}: the page lists the endpoint's {len(want)} entries in its order")

        # 4. Live: a newer version of the same zone, ten seconds on, without reloading.
        first_version, started = shown["version"], time.monotonic()
        wait_for(f"a version of zone {zone} newer than {first_version}, 10 s on",
                 lambda: time.monotonic() - started >= 10 and panel()["version"] > first_version, timeout_s=90)
        newer = panel()["version"]
        note(f"zone {zone}: version {first_version} at first, {newer} {time.monotonic() - started:.0f} s later")

        screenshot = os.path.join(output, "map.png")
        driver.save_screenshot(screenshot)
        note(f"screenshot: {screenshot}")

        errors = console_errors(driver)
        if errors:
            fail(f"console errors: {errors[:5]}")
        draw_figures(driver, runs=3)
        note("every check passed")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
