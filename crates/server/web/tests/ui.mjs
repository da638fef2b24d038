// Browser tests of the web UI in Debian's Chromium, driven by playwright-core (no browser
// download). Started by the e2e test `ui::the_web_ui_in_a_real_browser` (which sets up the server,
// users and data) with the addresses and ids in the environment; exits non-zero on the first
// failure. Mode `flow` walks the pages; mode `render` measures the overview's first render.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const env = (k) => { const v = process.env[k]; if (!v) throw new Error(`${k} is not set`); return v; };
const BASE = env("UI_BASE");
const PASSWORD = env("UI_PASSWORD");
const SHOTS = process.env.UI_SHOTS || "ui-screenshots";
const MODE = process.env.UI_MODE || "flow";
mkdirSync(SHOTS, { recursive: true });

function check(cond, what) { if (!cond) throw new Error(`check failed: ${what}`); console.log(`ok - ${what}`); }

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const failures = [];
async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, locale: "zh-CN", timezoneId: "Asia/Shanghai" });
  const page = await context.newPage();
  page.on("pageerror", (e) => failures.push(`page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error" && !/401|403|Failed to load resource/.test(m.text())) failures.push(`console: ${m.text()}`); });
  page.on("request", (r) => { if (!r.url().startsWith(BASE)) failures.push(`request outside the server: ${r.url()}`); });
  return page;
}
// Every wait says what the page showed and what went wrong in it when it times out.
for (const name of ["waitForSelector", "waitForFunction"]) {
  const proto = Object.getPrototypeOf(await (await (await browser.newContext()).newPage()));
  const original = proto[name];
  proto[name] = async function (...args) {
    try { return await original.apply(this, args); }
    catch (e) {
      const main = await this.evaluate(() => document.getElementById("main")?.innerText?.slice(0, 2000)).catch(() => "?");
      throw new Error(`${e.message}\npage: ${this.url()}\nmain: ${main}\nerrors: ${failures.join("\n")}`);
    }
  };
}
async function login(page, user) {
  await page.goto(`${BASE}/`);
  await page.waitForSelector("#login-form");
  await page.fill("input[name=username]", user);
  await page.fill("input[name=password]", PASSWORD);
  await page.click("#login-submit");
  await page.waitForSelector("#map[data-ready=true]", { timeout: 30000 });
}

try {
  if (MODE === "render") {
    const page = await newPage();
    await login(page, env("UI_USER"));
    const runs = [];
    for (let i = 0; i < 5; i++) {
      const t0 = Date.now();
      await page.goto(`${BASE}/#/`, { waitUntil: "commit" });
      await page.reload({ waitUntil: "commit" });
      await page.waitForSelector("#map[data-ready=true]", { timeout: 60000 });
      const wall = Date.now() - t0;
      await page.waitForSelector("#target-progress[data-ready=true]", { timeout: 120000 });
      const complete = Date.now() - t0;
      const fcp = await page.evaluate(() => (performance.getEntriesByName("first-contentful-paint")[0] || {}).startTime || null);
      const markers = await page.getAttribute("#map", "data-markers");
      runs.push({ map_ms: wall, all_cards_ms: complete, fcp_ms: fcp && Math.round(fcp), markers: Number(markers) });
    }
    await page.screenshot({ path: `${SHOTS}/overview-demo-city.png` });
    const sorted = (k) => runs.map((r) => r[k]).sort((a, b) => a - b);
    console.log(JSON.stringify({ render: runs, median_map_ms: sorted("map_ms")[2], median_all_cards_ms: sorted("all_cards_ms")[2], median_fcp_ms: sorted("fcp_ms")[2] }));
  } else {
    // A duty officer: login, map, language, chart zoom, alarm acknowledgement, a case step.
    const page = await newPage();
    page.on("dialog", (d) => d.accept("called the plant"));
    await page.goto(`${BASE}/`);
    await page.waitForSelector("#login-form");
    check((await page.textContent("#login-submit")) === "登录", "Chinese by default");
    await page.fill("input[name=username]", "duty");
    await page.fill("input[name=password]", "wrong password");
    await page.click("#login-submit");
    await page.waitForFunction(() => document.querySelector("#login-error").textContent.length > 0);
    check(true, "a wrong password is refused");
    await page.fill("input[name=password]", PASSWORD);
    await page.click("#login-submit");
    await page.waitForSelector("#map[data-ready=true]");
    check(Number(await page.getAttribute("#map", "data-markers")) >= 2, "the map shows every located point");
    check(await page.locator(".leaflet-overlay-pane canvas").count() >= 1, "markers drawn by Leaflet (on a canvas)");
    check((await page.textContent("#alarm-counts .figure")).trim() !== "0", "raised alarms are counted");
    await page.screenshot({ path: `${SHOTS}/overview.png` });

    await page.click("#lang");
    await page.waitForSelector("a[data-nav=alarms]");
    check((await page.textContent("a[data-nav=alarms]")) === "Alarms", "English after switching");
    await page.screenshot({ path: `${SHOTS}/overview-en.png` });
    await page.click("#lang");
    await page.waitForFunction(() => document.querySelector("a[data-nav=alarms]").textContent === "报警");
    check(true, "back to Chinese");

    await page.goto(`${BASE}/#/points/${env("UI_POINT")}`);
    await page.waitForSelector("#chart[data-points]");
    check(Number(await page.getAttribute("#chart", "data-points")) > 0, "the chart has data");
    const before = await page.evaluate(() => { const s = window.HuangheApp.chart.scales.x; return s.max - s.min; });
    const over = await page.locator("#chart .u-over").boundingBox();
    await page.mouse.move(over.x + over.width * 0.3, over.y + over.height / 2);
    await page.mouse.down();
    await page.mouse.move(over.x + over.width * 0.6, over.y + over.height / 2, { steps: 5 });
    await page.mouse.up();
    const after = await page.evaluate(() => { const s = window.HuangheApp.chart.scales.x; return s.max - s.min; });
    check(after < before * 0.5, `drag zooms in (${before} s -> ${after} s)`);
    const minBefore = await page.evaluate(() => window.HuangheApp.chart.scales.x.min);
    await page.click("#pan-left");
    const minAfter = await page.evaluate(() => window.HuangheApp.chart.scales.x.min);
    check(minAfter < minBefore, `pan moves the window earlier (${minBefore} -> ${minAfter})`);
    check(await page.locator("#chart .u-legend").textContent().then((t) => t.includes("限值")), "the limit is drawn");
    await page.screenshot({ path: `${SHOTS}/point-chart.png` });

    await page.goto(`${BASE}/#/alarms`);
    await page.waitForSelector("#live[data-live=true]");
    const ack = page.locator("button[data-ack]").first();
    await ack.click();
    await page.waitForFunction(() => [...document.querySelectorAll("#alarm-list td")].some((td) => td.textContent.includes("acknowledged · duty: called the plant")));
    check(true, "an alarm is acknowledged with a reason");
    await page.screenshot({ path: `${SHOTS}/alarms.png` });

    await page.goto(`${BASE}/#/cases/${env("UI_CASE")}`);
    await page.waitForSelector("form[data-step=dispatched]");
    check((await page.getAttribute("#case-state", "data-state")) === "open", "the case is open");
    await page.fill("form[data-step=dispatched] input[name=officer]", "li");
    await page.click("form[data-step=dispatched] button[type=submit]");
    await page.waitForFunction(() => document.querySelector("#case-state") && document.querySelector("#case-state").dataset.state === "dispatched");
    check(true, "the case moved one step (dispatched)");
    check((await page.textContent("#chain")).includes("✔"), "the event chain verifies");
    await page.screenshot({ path: `${SHOTS}/case.png` });

    await page.goto(`${BASE}/#/cases`);
    await page.waitForSelector("#case-figures");
    await page.screenshot({ path: `${SHOTS}/cases.png` });
    await page.goto(`${BASE}/#/registries/enterprises`);
    await page.waitForSelector("#registry-entries table");
    await page.locator("#registry-entries tbody tr").first().click();
    await page.waitForSelector("#registry-history table");
    check(true, "a registry with its entries and an entry's history");
    await page.screenshot({ path: `${SHOTS}/registry.png` });
    await page.goto(`${BASE}/#/targets`);
    await page.waitForSelector("[data-target=off_site_enforcement]");
    await page.screenshot({ path: `${SHOTS}/targets.png` });
    await page.goto(`${BASE}/#/devices/${env("UI_MN")}`);
    await page.waitForSelector("#packets-of");
    check(await page.locator("code.raw").count() > 0, "raw packets of a device");
    await page.screenshot({ path: `${SHOTS}/devices.png` });
    check(await page.locator("a[data-nav=admin]").count() === 0, "no admin menu for a duty officer");
    await page.click("#logout");
    await page.waitForSelector("#login-form");

    // An admin sees users and the audit log (the case dispatch above is in it).
    const admin = await newPage();
    await login(admin, "admin");
    await admin.click("a[data-nav=admin]");
    await admin.waitForSelector("#audit-log table");
    check(await admin.locator("#audit-log td", { hasText: "/dispatch" }).count() > 0, "the audit log shows the dispatch");
    await admin.screenshot({ path: `${SHOTS}/admin.png` });

    // An enterprise user sees its own point only and is refused another enterprise's.
    const ent = await newPage();
    await login(ent, env("UI_ENTERPRISE_USER"));
    check(Number(await ent.getAttribute("#map", "data-markers")) === 1, "the enterprise's map shows its own point only");
    check(await ent.locator("a[data-nav=registries]").count() === 0, "no registries in an enterprise's menu");
    await ent.screenshot({ path: `${SHOTS}/enterprise-overview.png` });
    await ent.goto(`${BASE}/#/points/${env("UI_OTHER_POINT")}`);
    await ent.waitForSelector("[data-error=forbidden]");
    check(true, "another enterprise's point is refused");
    await ent.screenshot({ path: `${SHOTS}/enterprise-forbidden.png` });
    await ent.goto(`${BASE}/#/alarms`);
    await ent.waitForSelector("#alarm-list table");
    const points = await ent.locator("#alarm-list tbody tr td:nth-child(2)").allTextContents();
    check(points.every((p) => p === env("UI_POINT")), "its alarms only");
  }
  if (failures.length) throw new Error(failures.join("\n"));
} finally {
  await browser.close();
}
