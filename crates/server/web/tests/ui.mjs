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
    // The overview, cold (a new browser profile: nothing cached) and warm (reloaded), and a
    // point's chart with a day of minute data; 5 runs each, medians.
    const runs = [];
    for (let i = 0; i < 5; i++) {
      const context = await browser.newContext({ viewport: { width: 1920, height: 1080 }, locale: "zh-CN", timezoneId: "Asia/Shanghai" });
      const r = await context.request.post(`${BASE}/api/v1/auth/login`, { data: { username: env("UI_USER"), password: PASSWORD } });
      if (!r.ok()) throw new Error(`login: ${r.status()}`);
      const page = await context.newPage();
      page.on("pageerror", (e) => failures.push(`page error: ${e.message}`));
      const timed = async (t0) => {
        await page.waitForSelector("#map[data-ready=true]", { timeout: 60000 });
        const map = Date.now() - t0;
        await page.waitForSelector(".wall[data-complete=true]", { timeout: 120000 });
        return { map_ms: map, complete_ms: Date.now() - t0 };
      };
      const coldStart = Date.now();
      await page.goto(`${BASE}/#/`, { waitUntil: "commit" });
      const cold = await timed(coldStart);
      const warmStart = Date.now();
      await page.reload({ waitUntil: "commit" });
      const warm = await timed(warmStart);
      const markers = Number(await page.getAttribute("#map", "data-markers"));
      let chart_ms = null;
      if (process.env.UI_CHART_POINT) {
        const to = new Date(Date.parse(process.env.UI_CHART_TO || new Date().toISOString()));
        const from = new Date(to.getTime() - 24 * 3600e3);
        chart_ms = await page.evaluate(async ([id, f, t]) => {
          const t0 = performance.now();
          location.hash = `#/points/${encodeURIComponent(id)}?type=min&from=${encodeURIComponent(f)}&to=${encodeURIComponent(t)}`;
          await new Promise((res) => { const tick = () => { const c = document.querySelector("#chart[data-points]"); if (c && Number(c.dataset.points) > 0) res(); else requestAnimationFrame(tick); }; tick(); });
          return Math.round(performance.now() - t0);
        }, [process.env.UI_CHART_POINT, from.toISOString(), to.toISOString()]);
        if (i === 4) await page.screenshot({ path: `${SHOTS}/render-chart.png` });
      }
      if (i === 4) { await page.goto(`${BASE}/#/`); await timed(Date.now()); await page.screenshot({ path: `${SHOTS}/overview-demo-city-1920.png` }); }
      runs.push({ cold_map_ms: cold.map_ms, cold_complete_ms: cold.complete_ms, warm_map_ms: warm.map_ms, warm_complete_ms: warm.complete_ms, chart_ms, markers });
      await context.close();
    }
    const median = (k) => { const v = runs.map((r) => r[k]).filter((x) => x !== null).sort((a, b) => a - b); return v.length ? v[Math.floor(v.length / 2)] : null; };
    console.log(JSON.stringify({ render: runs, median_cold_complete_ms: median("cold_complete_ms"), median_warm_complete_ms: median("warm_complete_ms"),
      median_cold_map_ms: median("cold_map_ms"), median_warm_map_ms: median("warm_map_ms"), median_chart_ms: median("chart_ms") }));
  } else if (MODE === "walk") {
    // Every page of every role in both languages: no raw key, no id where a name exists, no
    // text of the other language. Screenshots of every page in both languages (the first user).
    const users = env("UI_USERS").split(",");
    let problems = [];
    for (const [u, user] of users.entries()) {
      for (const lang of ["zh", "en"]) {
        const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, locale: "zh-CN", timezoneId: "Asia/Shanghai" });
        await context.addInitScript((l) => localStorage.setItem("huanghe.lang", l), lang);
        const r = await context.request.post(`${BASE}/api/v1/auth/login`, { data: { username: user, password: PASSWORD } });
        if (!r.ok()) throw new Error(`login ${user}: ${r.status()}`);
        const page = await context.newPage();
        page.on("pageerror", (e) => failures.push(`${user}/${lang}: page error: ${e.message}`));
        await page.goto(`${BASE}/#/`);
        await page.waitForSelector("#nav a");
        const hrefs = await page.$$eval("#nav a", (as) => as.map((a) => a.getAttribute("href")));
        const extra = await page.evaluate(async () => {
          const j = async (p) => { const r = await fetch(p); return r.ok ? r.json() : null; };
          const points = (await j("/api/v1/points")) || [];
          const cases = (await j("/api/v1/cases?limit=1")) || [];
          const pick = (k) => points.find((p) => p.kind === k);
          const out = [pick("gas_outlet"), pick("air_station"), pick("water_section")].filter(Boolean).map((p) => `#/points/${encodeURIComponent(p.id)}`);
          if (cases.length) out.push(`#/cases/${cases[0].id}`);
          const trucks = (await j("/api/v1/vehicles")) || [];
          if (trucks.length) out.push(`#/vehicles/${encodeURIComponent(trucks[0].vin)}`);
          return out;
        });
        if (hrefs.includes("#/registries")) extra.push("#/registries/enterprises");
        if (hrefs.includes("#/devices")) extra.push("#/devices?offline=1");
        for (const href of [...hrefs, ...extra]) {
          await page.goto(`${BASE}/${href}`);
          await page.waitForFunction(() => {
            const m = document.getElementById("main");
            const busy = [...m.querySelectorAll(".muted")].some((e) => e.textContent === window.HuangheApp.t("loading"));
            return m.dataset.page && !busy && (!document.getElementById("map") || document.querySelector(".wall[data-complete=true]"));
          }, null, { timeout: 60000 });
          const found = await page.evaluate(async (lang) => {
            const I = window.HuangheApp.I18N;
            const zhValues = new Set(Object.values(I.zh));
            const english = Object.values(I.en).filter((v) => /[a-z]{4,}/.test(v) && !zhValues.has(v) && !/\{/.test(v) && v.length >= 6);
            const points = (await (await fetch("/api/v1/points")).json()) || [];
            const ids = new Set(points.filter((p) => p.name && p.name !== p.id).map((p) => p.id));
            for (const p of points) if (p.enterprise && p.enterprise_name) ids.add(p.enterprise);
            const out = [];
            const walker = document.createTreeWalker(document.getElementById("main"), NodeFilter.SHOW_TEXT);
            for (let n = walker.nextNode(); n; n = walker.nextNode()) {
              const el = n.parentElement;
              if (!el || el.closest("[data-entered], code, .leaflet-control-attribution, [hidden]")) continue;
              const text = n.textContent.trim();
              if (!text) continue;
              if (/\b[a-z][a-z0-9]*(_[a-z0-9]+)+\b/.test(text)) out.push(`raw key: ${text}`);
              if (ids.has(text)) out.push(`an id where a name exists: ${text}`);
              if (lang === "en" && /[\u4e00-\u9fff]/.test(text)) out.push(`Chinese in English: ${text}`);
              if (lang === "zh") for (const e of english) if (text.includes(e)) out.push(`English in Chinese: ${text}`);
            }
            return [...new Set(out)].slice(0, 10);
          }, lang);
          for (const f of found) problems.push(`${user} ${lang} ${href}: ${f}`);
          if (u === 0) await page.screenshot({ path: `${SHOTS}/page-${lang}-${href.replace(/[#/?=&]+/g, "_").replace(/^_|_$/g, "") || "overview"}.png`, fullPage: true });
        }
        if (u === 0 && lang === "zh") {
          await page.setViewportSize({ width: 390, height: 844 });
          await page.goto(`${BASE}/#/`);
          await page.waitForSelector(".wall[data-complete=true]", { timeout: 60000 });
          const wide = await page.evaluate(() => document.documentElement.scrollWidth);
          check(wide <= 400, `the overview fits a phone (${wide} px wide)`);
          await page.screenshot({ path: `${SHOTS}/phone-overview.png`, fullPage: true });
        }
        await context.close();
        check(true, `${user} (${lang}): every page walked`);
      }
    }
    if (problems.length) throw new Error(`text problems:\n${problems.join("\n")}`);
    check(true, "no raw key, no id where a name exists, no text of the other language");
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
    check(await page.locator(".mk-wrap, .cluster").count() >= 1, "markers drawn by Leaflet, each focusable");
    await page.waitForSelector("#alarm-counts[data-ready=true]");
    check((await page.textContent("#alarms-raised")).trim() !== "0", "raised alarms are counted");
    check(await page.locator(".mk-alarmed, .cluster-alarm").count() >= 1, "the alarmed point (or its cluster) is marked with a ring and a count, not colour alone");
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
    const ack = page.locator("#alarm-list button[data-ack]").first();
    await ack.click();
    await page.waitForSelector("dialog.ask textarea[name=reason]");
    await page.fill("dialog.ask textarea[name=reason]", "called the plant");
    await page.click("dialog.ask button[data-ask=ok]");
    await page.waitForFunction(() => [...document.querySelectorAll("#alarm-list td")].some((td) => td.textContent.includes("已确认 · duty: called the plant")));
    check(true, "an alarm is acknowledged with a reason, in a form");
    const link = await page.getAttribute("#alarm-list a[data-chart-link]", "href");
    check(link.includes("code=a21026") && link.includes("from="), `the alarm links to its factor and window (${link})`);
    await page.screenshot({ path: `${SHOTS}/alarms.png` });

    await page.goto(`${BASE}/#/cases/${env("UI_CASE")}`);
    await page.waitForSelector("form[data-step=dispatched]");
    check((await page.getAttribute("#case-state", "data-state")) === "open", "the case is open");
    await page.selectOption("form[data-step=dispatched] select[name=district]", "lixia");
    await page.waitForSelector("form[data-step=dispatched] select[name=officer] option[value=li]", { state: "attached" });
    await page.selectOption("form[data-step=dispatched] select[name=officer]", "li");
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
    check(await admin.locator("#audit-log td", { hasText: "派发" }).count() > 0, "the audit log shows the dispatch, as a sentence");
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
    const points = await ent.locator("#alarm-list tbody tr td:nth-child(1) a").allTextContents();
    check(points.length > 0 && points.every((p) => p === env("UI_POINT")), "its alarms only");
  }
  if (failures.length) throw new Error(failures.join("\n"));
} finally {
  await browser.close();
}
