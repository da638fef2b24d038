// huanghe web UI: one page, hash routes, plain DOM over the JSON API. Served by the binary
// with its two libraries (uPlot for charts, Leaflet for the map); nothing is loaded from
// elsewhere. Chinese by default, English on request; times shown in Beijing time as the API
// gives them.
"use strict";

const I18N = {
  zh: {
    brand: "智慧生态黄河监管平台", logout: "退出", login: "登录", username: "用户名", password: "密码",
    overview: "一张图", alarms: "报警", cases: "案件", registries: "台账", targets: "目标", devices: "设备",
    points: "点位", loginFailed: "登录失败", forbidden: "无权查看", notFound: "不存在",
    cityAqi: "全市 AQI（当前小时）", alarmCounts: "在线报警", sectionCompliance: "断面达标", targetProgress: "目标进度",
    legendAlarm: "报警", legendOffline: "离线", legendOk: "正常", legendUnknown: "无状态",
    latest: "最新数据", chart: "曲线", series: "数据类型", code: "因子", from: "开始", to: "结束", load: "查询",
    panLeft: "◀ 前移", panRight: "后移 ▶", resetZoom: "复位", limit: "限值", flagged: "非正常标记",
    assessment: "评价", acknowledge: "确认", dismiss: "忽略", reason: "原因", openCase: "立案",
    id: "编号", point: "点位", rule: "规则", severity: "级别", state: "状态", start: "开始", end: "结束", handling: "处理",
    live: "实时推送已连接", title: "标题", district: "区县", enterprise: "企业", officer: "承办人", mode: "方式",
    opened: "立案时间", due: "期限", events: "过程记录", actions: "可执行操作", evidence: "下载证据包",
    chainOk: "事件链校验通过", chainBroken: "事件链被篡改", actor: "人员", time: "时间", action: "动作",
    submit: "提交", search: "搜索", export: "导出", import: "导入", history: "变更历史", page: "页",
    total: "共", value: "当前值", goal: "目标值", forecast: "年底预测", onTrack: "进度", deadline: "期限",
    online: "在线", lastPacket: "最后上报", packets: "报文", peer: "地址", received: "接收时间", crc: "CRC", disposition: "处理",
    yes: "是", no: "否", none: "无", newCase: "新建案件", description: "描述", file: "附件",
    rtd: "实时", min: "分钟", hour: "小时", day: "日", figures: "执法统计", offSiteShare: "非现场执法占比",
    admin: "用户与审计", users: "用户", audit: "审计日志", role: "角色", disabled: "已停用", disable: "停用", displayName: "显示名", create: "创建", enable: "启用", status: "状态码", path: "路径", method: "方法",
    loading: "加载中…", inspectionPlan: "导出年度检查计划（CSV）", missingLib: "缺少前端库（构建时需 Node.js/npm）：",
    s_open: "待派发", s_dispatched: "已派发", s_investigated: "已调查", s_rectifying: "整改中", s_responded: "企业已反馈", s_verified: "已核查", s_closed: "已办结",
    s_raised: "报警中", s_cleared: "已恢复", s_withdrawn: "已撤销",
    a_opened: "立案", a_dispatched: "派发", a_off_site_review: "非现场核查", a_inspection: "现场检查", a_rectification_requested: "下达整改",
    a_responded: "企业反馈", a_response_returned: "退回反馈", a_verified: "核查", a_closed: "办结", a_reopened: "重新办理", a_escalated: "超期督办", a_commented: "备注",
    f_findings: "核查发现", f_notice: "告知企业内容", f_inspector: "检查人员", f_inspected: "检查时间", f_requirement: "整改要求", f_due: "整改期限",
    f_statement: "整改说明", f_reason: "原因", f_method: "方式", f_detail: "核查情况", f_conclusion: "办结结论", f_violation: "存在违法行为", f_text: "备注",
    f_officer: "承办人（用户名）", f_district: "区县", f_file: "附件",
  },
  en: {
    brand: "Smart Ecological Yellow River", logout: "Log out", login: "Log in", username: "User name", password: "Password",
    overview: "Map", alarms: "Alarms", cases: "Cases", registries: "Registries", targets: "Targets", devices: "Devices",
    points: "Points", loginFailed: "Login failed", forbidden: "Not allowed", notFound: "Not found",
    cityAqi: "City AQI (this hour)", alarmCounts: "Raised alarms", sectionCompliance: "Section compliance", targetProgress: "Target progress",
    legendAlarm: "alarm", legendOffline: "offline", legendOk: "normal", legendUnknown: "no state",
    latest: "Latest values", chart: "Chart", series: "Series", code: "Code", from: "From", to: "To", load: "Load",
    panLeft: "◀ Earlier", panRight: "Later ▶", resetZoom: "Reset", limit: "limit", flagged: "flagged",
    assessment: "Assessment", acknowledge: "Acknowledge", dismiss: "Dismiss", reason: "Reason", openCase: "Open case",
    id: "Id", point: "Point", rule: "Rule", severity: "Severity", state: "State", start: "Start", end: "End", handling: "Handling",
    live: "live updates on", title: "Title", district: "District", enterprise: "Enterprise", officer: "Officer", mode: "Mode",
    opened: "Opened", due: "Due", events: "Events", actions: "Actions", evidence: "Download evidence",
    chainOk: "event chain verified", chainBroken: "event chain broken", actor: "Actor", time: "Time", action: "Action",
    submit: "Submit", search: "Search", export: "Export", import: "Import", history: "History", page: "page",
    total: "total", value: "Value", goal: "Goal", forecast: "Year-end forecast", onTrack: "On track", deadline: "Deadline",
    online: "Online", lastPacket: "Last packet", packets: "Packets", peer: "Peer", received: "Received", crc: "CRC", disposition: "Disposition",
    yes: "yes", no: "no", none: "none", newCase: "New case", description: "Description", file: "Attachment",
    rtd: "real-time", min: "minute", hour: "hour", day: "day", figures: "Enforcement figures", offSiteShare: "Off-site share",
    admin: "Users & audit", users: "Users", audit: "Audit log", role: "Role", disabled: "Disabled", disable: "Disable", displayName: "Display name", create: "Create", enable: "Enable", status: "Status", path: "Path", method: "Method",
    loading: "Loading…", inspectionPlan: "Export the year's inspection plan (CSV)", missingLib: "Missing browser library (Node.js/npm are needed at build time): ",
    s_open: "open", s_dispatched: "dispatched", s_investigated: "investigated", s_rectifying: "rectifying", s_responded: "responded", s_verified: "verified", s_closed: "closed",
    s_raised: "raised", s_cleared: "cleared", s_withdrawn: "withdrawn",
    a_opened: "opened", a_dispatched: "dispatch", a_off_site_review: "off-site review", a_inspection: "on-site inspection", a_rectification_requested: "request rectification",
    a_responded: "enterprise response", a_response_returned: "return the response", a_verified: "verify", a_closed: "close", a_reopened: "reopen", a_escalated: "escalated (overdue)", a_commented: "comment",
    f_findings: "findings", f_notice: "notice to the enterprise", f_inspector: "inspectors", f_inspected: "inspected at", f_requirement: "requirement", f_due: "due",
    f_statement: "statement", f_reason: "reason", f_method: "method", f_detail: "detail", f_conclusion: "conclusion", f_violation: "violation established", f_text: "text",
    f_officer: "officer (user name)", f_district: "district", f_file: "attachment",
  },
};

const App = {
  lang: localStorage.getItem("huanghe.lang") || "zh",
  me: null,
  caps: new Set(),
  stream: null,
  chart: null,
};
window.HuangheApp = App; // for the browser tests

function t(key) { return (I18N[App.lang] && I18N[App.lang][key]) || I18N.zh[key] || key; }

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, body, contentType) {
  const opts = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    if (contentType) { opts.headers["Content-Type"] = contentType; opts.body = body; }
    else { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
  }
  const r = await fetch(path, opts);
  if (r.status === 401 && path !== "/api/v1/auth/login") { showLogin(); throw new HttpError(401, "login"); }
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!r.ok) throw new HttpError(r.status, (data && data.error) || text || r.statusText);
  return data;
}

const get = (p) => api("GET", p);
const post = (p, b) => api("POST", p, b);

// Factor names and units, from the platform's one table (fetched once).
let factorTable = null;
async function loadFactors() {
  if (!factorTable) {
    factorTable = get("/api/v1/factors")
      .then((list) => new Map(list.map((f) => [f.code, f])))
      .catch(() => { factorTable = null; return new Map(); });
  }
  return factorTable;
}
/** A factor's name, the code after it. */
function factorName(factors, code) {
  const f = factors.get(code);
  return f ? `${App.lang === "zh" ? f.name_zh : f.name_en} · ${code}` : code;
}
/** A factor as people read it at a point: name and unit (the point's own unit first), the code. */
function factorLabel(factors, code, point) {
  const f = factors.get(code);
  if (!f) return code;
  const name = App.lang === "zh" ? f.name_zh : f.name_en;
  const own = point && point.codes && point.codes[code] && point.codes[code].unit;
  const unit = own || (point.kind === "air_station" && f.unit_air_station) || f.unit;
  return unit ? `${name} (${unit}) · ${code}` : `${name} · ${code}`;
}

function fmtTime(s) { return s ? String(s).replace("T", " ").replace(/(\.\d+)?\+08:00$/, "") : ""; }
function bjNow() { return new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 16); }
function toRfc(local) { return local.length === 16 ? `${local}:00+08:00` : `${local}+08:00`; }
function enc(s) { return encodeURIComponent(s); }

function errorBox(e) {
  if (e.status === 403) return h("p", { class: "error", "data-error": "forbidden" }, `${t("forbidden")}: ${e.message}`);
  if (e.status === 404) return h("p", { class: "error", "data-error": "not-found" }, `${t("notFound")}: ${e.message}`);
  return h("p", { class: "error" }, e.message || String(e));
}

function table(headers, rows, onClick) {
  return h("table", {},
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))),
    h("tbody", {}, rows.map((r) => h("tr", onClick ? { class: "clickable", onclick: () => onClick(r.item) } : {}, r.cells.map((c) => h("td", {}, c))))));
}

// ---------------------------------------------------------------- shell, login, routing

const NAV = [
  ["overview", "#/", "read_data"],
  ["alarms", "#/alarms", "read_alarms"],
  ["cases", "#/cases", "read_cases"],
  ["registries", "#/registries", "read_registries"],
  ["targets", "#/targets", "read_registries"],
  ["devices", "#/devices", "read_devices"],
  ["admin", "#/admin", "manage_users"],
];

function applyI18n() {
  document.documentElement.lang = App.lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.getElementById("lang").textContent = App.lang === "zh" ? "EN" : "中文";
  const nav = document.getElementById("nav");
  nav.replaceChildren(...(App.me ? NAV.filter(([, , cap]) => App.caps.has(cap)).map(([k, href]) =>
    h("a", { href, "data-nav": k, class: location.hash.startsWith(href) && href !== "#/" || (href === "#/" && (location.hash === "" || location.hash === "#/")) ? "active" : null }, t(k))) : []));
  document.getElementById("who").textContent = App.me ? `${App.me.display_name} · ${App.me.role}` : "";
  document.getElementById("logout").hidden = !App.me;
}

function showLogin(message) {
  App.me = null;
  if (App.stream) { App.stream.close(); App.stream = null; }
  applyI18n();
  const err = h("p", { class: "error", id: "login-error" }, message || "");
  const form = h("form", { class: "card login", id: "login-form", onsubmit: async (ev) => {
    ev.preventDefault();
    const fd = new FormData(ev.target);
    try {
      await api("POST", "/api/v1/auth/login", { username: fd.get("username"), password: fd.get("password") });
      await start();
    } catch (e) { err.textContent = `${t("loginFailed")}: ${e.message}`; }
  } },
  h("h1", {}, t("brand")),
  h("label", {}, t("username"), h("input", { name: "username", autocomplete: "username", required: true })),
  h("label", {}, t("password"), h("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
  h("p", {}, h("button", { class: "act", type: "submit", id: "login-submit" }, t("login"))), err);
  document.getElementById("main").replaceChildren(form);
}

async function start() {
  try {
    App.me = await get("/api/v1/auth/me");
  } catch (e) {
    if (e.status === 401) return;
    document.getElementById("main").replaceChildren(errorBox(e));
    return;
  }
  App.caps = new Set(App.me.capabilities);
  applyI18n();
  route();
}

async function route() {
  if (!App.me) return;
  applyI18n();
  if (App.chart) { App.chart.destroy(); App.chart = null; }
  const main = document.getElementById("main");
  const hash = location.hash.replace(/^#/, "") || "/";
  const parts = hash.split("/").filter(Boolean).map(decodeURIComponent);
  main.replaceChildren(h("p", { class: "muted" }, t("loading")));
  const missing = window.HUANGHE_MISSING || [];
  const view = h("div", {});
  if (missing.length) view.append(h("p", { class: "error" }, t("missingLib") + missing.join(", ")));
  try {
    if (parts.length === 0) await overview(view);
    else if (parts[0] === "points" && parts[1]) await pointPage(view, parts[1]);
    else if (parts[0] === "alarms") await alarmsPage(view);
    else if (parts[0] === "cases" && parts[1]) await casePage(view, parts[1]);
    else if (parts[0] === "cases") await casesPage(view);
    else if (parts[0] === "registries" && parts[1]) await registryPage(view, parts[1]);
    else if (parts[0] === "registries") await registriesPage(view);
    else if (parts[0] === "targets") await targetsPage(view);
    else if (parts[0] === "devices") await devicesPage(view, parts[1]);
    else if (parts[0] === "admin") await adminPage(view);
    else view.append(errorBox({ status: 404, message: hash }));
  } catch (e) {
    if (e.status === 401) return;
    view.append(errorBox(e));
  }
  main.replaceChildren(view);
  main.dataset.page = parts[0] || "overview";
}

// ---------------------------------------------------------------- overview: the one map

async function safe(p) { try { return await get(p); } catch (e) { if (e.status === 401) throw e; return null; } }

async function overview(view) {
  const t0 = performance.now();
  // The map needs points, raised alarms and device states (fast); the side cards fill in as
  // their figures arrive (targets replay a year of registry history and take longer).
  const [points, alarms, devices] = await Promise.all([
    get("/api/v1/points"),
    safe("/api/v1/alarms?state=raised&limit=10000"),
    App.caps.has("read_devices") ? safe("/api/v1/devices") : null,
  ]);
  const alarmed = new Map();
  for (const a of alarms || []) alarmed.set(a.point_id, (alarmed.get(a.point_id) || 0) + 1);
  const online = new Map((devices || []).map((d) => [d.mn, d.online]));
  const colour = (p) => alarmed.has(p.id) ? "#d32f2f" : online.has(p.mn) ? (online.get(p.mn) ? "#2e7d32" : "#8a8f96") : "#4f83cc";
  const mapEl = h("div", { id: "map" });
  const side = h("div", {});
  const bySeverity = {};
  for (const a of alarms || []) bySeverity[a.severity] = (bySeverity[a.severity] || 0) + 1;
  side.append(h("div", { class: "card", id: "alarm-counts" }, h("h2", {}, t("alarmCounts")),
    h("div", { class: "figure" }, String((alarms || []).length)),
    h("div", { class: "muted" }, Object.entries(bySeverity).map(([k, v]) => `${k}: ${v}`).join(" · "))));
  const aqiCard = h("div", { class: "card", id: "city-aqi" }, h("h2", {}, t("cityAqi")), h("div", { class: "figure" }, "…"));
  side.append(aqiCard);
  safe("/api/v1/aqi/city").then((aqi) => {
    const hourly = (aqi && aqi.hourly) || [];
    const lastHour = [...hourly].reverse().find((x) => x.report && x.report.aqi !== null && x.report.aqi !== undefined);
    aqiCard.replaceChildren(h("h2", {}, t("cityAqi")), h("div", { class: "figure" }, lastHour ? String(lastHour.report.aqi) : "—"),
      h("div", { class: "muted" }, lastHour ? `${fmtTime(lastHour.time)} ${lastHour.report.primary.join(",")} ${aqi.standard}` : ""));
    aqiCard.dataset.ready = "true";
  });
  const sections = points.filter((p) => p.kind === "water_section");
  if (sections.length) {
    const card = h("div", { class: "card", id: "sections" }, h("h2", {}, t("sectionCompliance")), h("div", { class: "figure" }, "…"));
    side.append(card);
    const month = bjNow().slice(0, 7);
    Promise.all(sections.map((s) => safe(`/api/v1/points/${enc(s.id)}/water?month=${month}`))).then((verdicts) => {
      const meets = (v) => v && v.assessment ? v.assessment.meets_target : null;
      const ok = verdicts.filter((v) => meets(v) === true).length;
      const judged = verdicts.filter((v) => meets(v) === true || meets(v) === false).length;
      card.replaceChildren(h("h2", {}, t("sectionCompliance")), h("div", { class: "figure" }, `${ok} / ${judged}`),
        h("div", { class: "muted" }, `${sections.length} ${t("points")}`));
    });
  }
  if (App.caps.has("read_registries")) {
    const card = h("div", { class: "card", id: "target-progress" }, h("h2", {}, t("targetProgress")), h("div", { class: "muted" }, t("loading")));
    side.append(card);
    safe("/api/v1/targets").then((targets) => {
      if (!targets) return;
      card.replaceChildren(h("h2", {}, t("targetProgress")),
        table([t("title"), t("value")], targets.slice(0, 6).map((x) => ({ cells: [App.lang === "zh" ? x.title_zh || x.title : x.title, x.value === null ? "—" : fmtValue(x.value, x.measure)] }))));
      card.dataset.ready = "true";
    });
  }
  view.append(h("h1", {}, t("overview")),
    h("div", { class: "legend muted" }, h("span", { style: "background:#d32f2f" }), t("legendAlarm"), h("span", { style: "background:#2e7d32" }), t("legendOk"),
      h("span", { style: "background:#8a8f96" }), t("legendOffline"), h("span", { style: "background:#4f83cc" }), t("legendUnknown"), ` · ${points.length} ${t("points")}`),
    h("div", { class: "grid" }, mapEl, side));
  // The map is drawn once the element is in the page.
  queueMicrotask(() => requestAnimationFrame(() => {
    if (typeof L === "undefined") return;
    const map = L.map(mapEl, { preferCanvas: true }).setView([36.65, 117.0], 9);
    const tiles = document.body.dataset.tileUrl;
    if (tiles && !tiles.startsWith("{{")) L.tileLayer(tiles, { attribution: document.body.dataset.tileAttribution || "" }).addTo(map);
    const located = points.filter((p) => Array.isArray(p.location));
    for (const p of located) {
      L.circleMarker([p.location[1], p.location[0]], { radius: 5, color: colour(p), fillColor: colour(p), fillOpacity: 0.85, weight: 1 })
        .bindPopup(`<b>${escapeHtml(p.name)}</b><br>${escapeHtml(p.id)} · ${escapeHtml(p.kind)}<br>${alarmed.has(p.id) ? alarmed.get(p.id) + " " + t("alarms") : ""}<br><a href="#/points/${enc(p.id)}">${t("chart")}</a>`)
        .addTo(map);
    }
    if (located.length) map.fitBounds(located.map((p) => [p.location[1], p.location[0]]), { maxZoom: 12, padding: [20, 20] });
    mapEl.dataset.markers = String(located.length);
    mapEl.dataset.ready = "true";
    App.overviewMs = performance.now() - t0;
  }));
}

function fmtValue(v, measure) { return measure === "share" ? `${(v * 100).toFixed(1)}%` : String(Math.round(v * 100) / 100); }
function escapeHtml(s) { return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c])); }

// ---------------------------------------------------------------- a point: chart, latest, assessment

async function pointPage(view, id) {
  const point = await get(`/api/v1/points/${enc(id)}`);
  const latest = await get(`/api/v1/points/${enc(id)}/latest`);
  const factors = await loadFactors();
  const codes = [...new Set((latest || []).map((o) => o.code))].sort();
  view.append(h("h1", {}, `${point.name} (${point.id})`), h("p", { class: "muted" }, `${point.kind} · MN ${point.mn}`));
  const typeSel = h("select", { id: "series-type" }, ["min", "hour", "rtd", "day"].map((x) => h("option", { value: x }, t(x))));
  // The first code with a limit is the most telling; otherwise the first code.
  const preferred = codes.find((c) => point.codes && point.codes[c] && point.codes[c].limit != null) || codes[0];
  const codeSel = h("select", { id: "series-code" }, codes.map((c) => h("option", { value: c, selected: c === preferred }, factorLabel(factors, c, point))));
  const newest = (latest || []).map((o) => o.time).sort().pop();
  const end = newest ? newest.slice(0, 16) : bjNow();
  const endMs = Date.parse(toRfc(end));
  const fromIn = h("input", { id: "series-from", type: "datetime-local", value: new Date(endMs - 24 * 3600e3 + 8 * 3600e3).toISOString().slice(0, 16) });
  const toIn = h("input", { id: "series-to", type: "datetime-local", value: new Date(endMs + 3600e3 + 8 * 3600e3).toISOString().slice(0, 16) });
  const chartEl = h("div", { id: "chart" });
  const status = h("span", { class: "muted", id: "chart-status" });
  const load = async () => {
    const code = codeSel.value;
    if (!code) { status.textContent = t("none"); return; }
    const rows = await get(`/api/v1/points/${enc(id)}/series?type=${typeSel.value}&code=${enc(code)}&from=${enc(toRfc(fromIn.value))}&to=${enc(toRfc(toIn.value))}&limit=100000`);
    drawChart(chartEl, point, code, typeSel.value, rows, factorLabel(factors, code, point));
    status.textContent = `${rows.length}`;
  };
  const pan = (dir) => {
    if (!App.chart) return;
    const { min, max } = App.chart.scales.x;
    const w = (max - min) * 0.5 * dir;
    App.chart.setScale("x", { min: min + w, max: max + w });
  };
  view.append(h("div", { class: "card" }, h("h2", {}, t("chart")),
    h("div", { class: "toolbar" }, t("series"), typeSel, t("code"), codeSel, t("from"), fromIn, t("to"), toIn,
      h("button", { class: "act", id: "series-load", onclick: load }, t("load")),
      h("button", { class: "act secondary", id: "pan-left", onclick: () => pan(-1) }, t("panLeft")),
      h("button", { class: "act secondary", id: "pan-right", onclick: () => pan(1) }, t("panRight")),
      h("button", { class: "act secondary", id: "zoom-reset", onclick: load }, t("resetZoom")),
      h("a", { id: "series-csv", href: "#", onclick: (ev) => { ev.currentTarget.href = `/api/v1/points/${enc(id)}/series?format=csv&type=${typeSel.value}&from=${enc(toRfc(fromIn.value))}&to=${enc(toRfc(toIn.value))}`; } }, `${t("export")} CSV`), status),
    chartEl));
  view.append(h("div", { class: "card" }, h("h2", {}, t("latest")),
    table([t("series"), t("code"), t("time"), "fields"], (latest || []).map((o) => ({ cells: [t(o.type), factorLabel(factors, o.code, point), fmtTime(o.time), Object.entries(o.fields).map(([k, v]) => `${k}=${v}`).join(" ")] })))));
  const assess = h("div", { class: "card", id: "assessment" }, h("h2", {}, t("assessment")));
  view.append(assess);
  const day = (newest || toRfc(bjNow())).slice(0, 10);
  const which = point.kind === "air_station" ? `aqi?date=${day}` : point.kind === "water_section" ? `water?month=${day.slice(0, 7)}` : point.kind === "noise" ? `noise?date=${day}` : `emissions?date=${day}`;
  safe(`/api/v1/points/${enc(id)}/${which}`).then((a) => { assess.append(assessmentView(a)); });
  if (codes.length) setTimeout(load, 0);
}

/// An assessment as tables: arrays of records become tables of their plain fields, the rest a
/// list of plain fields (nested detail stays available through the API).
function assessmentView(a) {
  if (!a) return h("p", { class: "muted" }, t("none"));
  const plain = (v) => v === null || ["string", "number", "boolean"].includes(typeof v);
  const rowsOf = (arr) => {
    const keys = Object.keys(arr[0] || {}).filter((k) => arr.some((r) => plain(r[k]))).slice(0, 9);
    return table(keys, arr.slice(0, 200).map((r) => ({ cells: keys.map((k) => fmtCell(r[k])) })));
  };
  if (Array.isArray(a)) return rowsOf(a);
  const out = h("div", {});
  out.append(table(["", ""], Object.entries(a).filter(([, v]) => plain(v)).map(([k, v]) => ({ cells: [k, fmtCell(v)] }))));
  for (const [k, v] of Object.entries(a)) {
    if (Array.isArray(v) && v.length && typeof v[0] === "object") out.append(h("h2", {}, k), rowsOf(v));
    else if (v && typeof v === "object" && !Array.isArray(v)) out.append(h("h2", {}, k), table(["", ""], Object.entries(v).filter(([, x]) => plain(x) || Array.isArray(x)).map(([x, y]) => ({ cells: [x, Array.isArray(y) ? y.map((e) => typeof e === "object" ? JSON.stringify(e) : e).join(", ") : fmtCell(y)] }))));
  }
  return out;
}

function drawChart(el, point, code, type, rows, label) {
  if (App.chart) { App.chart.destroy(); App.chart = null; }
  el.replaceChildren();
  if (typeof uPlot === "undefined") return;
  const field = type === "rtd" ? "rtd" : "avg";
  const xs = [], ys = [], flagged = [];
  for (const o of rows) {
    const x = Date.parse(o.time) / 1000;
    const v = parseFloat(o.fields[field] ?? o.fields.rtd ?? o.fields.avg);
    xs.push(x);
    ys.push(Number.isFinite(v) ? v : null);
    const flag = o.fields.flag;
    flagged.push(flag && flag !== "N" && Number.isFinite(v) ? v : null);
  }
  const limit = point.codes && point.codes[code] && point.codes[code].limit;
  const data = [xs, ys, flagged];
  const series = [{},
    { label: label || code, stroke: "#0d4f6c", width: 1.5 },
    { label: t("flagged"), stroke: "#d32f2f", width: 0, points: { show: true, size: 7, fill: "#d32f2f" } }];
  if (limit !== undefined && limit !== null) {
    data.push(xs.map(() => limit));
    series.push({ label: `${t("limit")} ${limit}`, stroke: "#b36b00", dash: [6, 4], width: 1 });
  }
  const opts = {
    width: Math.max(600, el.clientWidth || 900), height: 320, series,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Asia/Shanghai"),
    cursor: { drag: { x: true, y: false } },
    scales: { x: { time: true } },
    axes: [{ values: (u, splits) => splits.map((v) => { const d = uPlot.tzDate(new Date(v * 1e3), "Asia/Shanghai"); const p = (n) => String(n).padStart(2, "0"); return `${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`; }) }, {}],
  };
  App.chart = new uPlot(opts, data, el);
  el.dataset.points = String(xs.length);
}

// ---------------------------------------------------------------- alarms, live

async function alarmsPage(view) {
  const list = h("div", { id: "alarm-list" });
  const live = h("span", { class: "muted", id: "live" });
  view.append(h("h1", {}, t("alarms")), h("p", {}, live), list);
  const render = async (flashId) => {
    const rows = await get("/api/v1/alarms?limit=200");
    const factors = await loadFactors();
    const handle = (a, kind) => async (ev) => {
      ev.stopPropagation();
      const reason = prompt(t("reason"));
      if (!reason) return;
      try { await post(`/api/v1/alarms/${a.id}/${kind}`, { reason }); await render(a.id); }
      catch (e) { alert(e.message); }
    };
    const openCase = (a) => async (ev) => {
      ev.stopPropagation();
      try { const c = await post("/api/v1/cases", { title: `${a.point_id} ${a.rule_id} ${a.code}`, alarms: [a.id] }); location.hash = `#/cases/${c.id}`; }
      catch (e) { alert(e.message); }
    };
    list.replaceChildren(table([t("id"), t("point"), t("rule"), t("code"), t("severity"), t("state"), t("start"), t("end"), t("handling"), ""],
      rows.map((a) => ({ item: a, cells: [
        String(a.id), h("a", { href: `#/points/${enc(a.point_id)}` }, a.point_id), a.rule_id, a.code ? factorName(factors, a.code) : "",
        h("span", { class: `sev-${a.severity}` }, a.severity), h("span", { class: `state-${a.state}` }, t(`s_${a.state}`)),
        fmtTime(new Date(a.start * 1000 + 8 * 3600e3).toISOString().slice(0, 19)), fmtTime(new Date(a.end * 1000 + 8 * 3600e3).toISOString().slice(0, 19)),
        a.handling ? `${a.handling.action} · ${a.handling.by}: ${a.handling.reason}` : "",
        h("span", {},
          App.caps.has("handle_alarms") && !a.handling && a.state !== "withdrawn" ? [h("button", { class: "act", "data-ack": a.id, onclick: handle(a, "acknowledge") }, t("acknowledge")), " ",
            h("button", { class: "act secondary", "data-dismiss": a.id, onclick: handle(a, "dismiss") }, t("dismiss"))] : null,
          App.caps.has("open_cases") ? [" ", h("button", { class: "act secondary", "data-open-case": a.id, onclick: openCase(a) }, t("openCase"))] : null),
      ] }))));
    if (flashId) list.querySelectorAll("tbody tr").forEach((tr) => { if (tr.firstChild.textContent === String(flashId)) tr.classList.add("flash"); });
  };
  await render();
  if (App.stream) App.stream.close();
  App.stream = new EventSource("/api/v1/alarms/stream");
  App.stream.onopen = () => { live.textContent = `● ${t("live")}`; live.dataset.live = "true"; };
  const onEvent = (ev) => { try { const e = JSON.parse(ev.data); if (location.hash.startsWith("#/alarms")) render(e.alarm_id); } catch { /* keep-alive */ } };
  for (const kind of ["raised", "updated", "cleared", "reopened", "withdrawn", "acknowledged", "dismissed"]) App.stream.addEventListener(kind, onEvent);
}

// ---------------------------------------------------------------- cases

async function casesPage(view) {
  const rows = await get("/api/v1/cases?limit=500");
  view.append(h("h1", {}, t("cases")));
  if (App.caps.has("read_figures")) {
    const f = await safe("/api/v1/cases/figures");
    if (f) view.append(h("div", { class: "card", id: "case-figures" }, h("h2", {}, t("figures")),
      h("span", { class: "figure" }, f.total.off_site_share === null ? "—" : `${(f.total.off_site_share * 100).toFixed(0)}%`),
      h("span", { class: "muted" }, ` ${t("offSiteShare")} (≥ ${f.off_site_target * 100}%) · ${f.total.open} open · ${f.total.closed} closed · ${f.total.overdue} overdue · `),
      h("a", { href: "/api/v1/inspection-plan?format=csv", id: "plan-csv" }, t("inspectionPlan"))));
  }
  if (App.caps.has("open_cases")) {
    view.append(h("form", { class: "card step", id: "new-case", onsubmit: async (ev) => {
      ev.preventDefault();
      const fd = new FormData(ev.target);
      try {
        const c = await post("/api/v1/cases", { title: fd.get("title"), description: fd.get("description") || "", district: fd.get("district") || undefined, point_id: fd.get("point") || undefined });
        location.hash = `#/cases/${c.id}`;
      } catch (e) { alert(e.message); }
    } }, h("h2", {}, t("newCase")), h("input", { name: "title", placeholder: t("title"), required: true }),
      h("input", { name: "point", placeholder: t("point") }), h("input", { name: "district", placeholder: t("district"), value: App.me.district || "" }),
      h("textarea", { name: "description", placeholder: t("description") }), h("button", { class: "act", type: "submit" }, t("submit"))));
  }
  view.append(table([t("id"), t("title"), t("state"), t("district"), t("enterprise"), t("officer"), t("opened"), t("due")],
    rows.map((c) => ({ item: c, cells: [String(c.id), c.title, t(`s_${c.state}`), c.district || "", c.enterprise || "", c.officer || "",
      fmtTime(new Date(c.opened_ms + 8 * 3600e3).toISOString().slice(0, 19)), c.due_ms ? fmtTime(new Date(c.due_ms + 8 * 3600e3).toISOString().slice(0, 16)) : ""] })),
    (c) => { location.hash = `#/cases/${c.id}`; }));
}

/// The form of each step: [endpoint, capability, fields]; a field is [name, kind].
const STEPS = {
  dispatched: ["dispatch", "dispatch_cases", [["district", "text"], ["officer", "text"]]],
  off_site_review: ["actions", "handle_cases", [["findings", "textarea"], ["notice", "text"]]],
  inspection: ["actions", "handle_cases", [["inspector", "text"], ["inspected", "datetime"], ["findings", "textarea"]]],
  rectification_requested: ["actions", "handle_cases", [["requirement", "textarea"], ["due", "datetime"]]],
  responded: ["response", "respond_to_cases", [["statement", "textarea"], ["file", "file"]]],
  response_returned: ["actions", "handle_cases", [["reason", "text"]]],
  verified: ["actions", "handle_cases", [["method", "select:inspection,data"], ["detail", "text"]]],
  closed: ["actions", "handle_cases", [["conclusion", "textarea"], ["violation", "checkbox"]]],
  reopened: ["actions", "handle_cases", [["reason", "text"]]],
  commented: ["actions", "handle_cases", [["text", "textarea"]]],
};

async function casePage(view, id) {
  const v = await get(`/api/v1/cases/${enc(id)}`);
  const c = v.case;
  view.append(h("h1", { "data-case-state": c.state }, `${t("cases")} ${c.id} · ${c.title}`),
    h("p", { class: v.chain_valid ? "ok" : "error", id: "chain" }, v.chain_valid ? `✔ ${t("chainOk")}` : `✘ ${t("chainBroken")}: ${v.chain_error}`),
    h("div", { class: "card" }, table(["", ""], [
      [t("state"), h("b", { id: "case-state", "data-state": c.state }, t(`s_${c.state}`))], [t("district"), c.district || ""], [t("enterprise"), c.enterprise || ""],
      [t("point"), c.point_id ? h("a", { href: `#/points/${enc(c.point_id)}` }, c.point_id) : ""], [t("officer"), c.officer || ""],
      [t("mode"), c.mode || ""], [t("alarms"), c.alarms.join(", ")], [t("due"), c.due_ms ? fmtTime(new Date(c.due_ms + 8 * 3600e3).toISOString().slice(0, 16)) : ""],
    ].map(([a, b]) => ({ cells: [a, b] }))), h("p", {}, h("a", { href: `/api/v1/cases/${c.id}/evidence`, id: "evidence" }, t("evidence")))));
  const actions = h("div", { class: "card", id: "case-actions" }, h("h2", {}, t("actions")));
  for (const name of v.legal_actions) {
    const step = STEPS[name];
    if (!step || !App.caps.has(step[1])) continue;
    actions.append(stepForm(c, name, step));
  }
  view.append(actions);
  view.append(h("div", { class: "card" }, h("h2", {}, t("events")),
    table(["#", t("time"), t("actor"), t("action"), ""], v.events.map((e) => ({ cells: [String(e.seq), fmtTime(e.at), e.actor, t(`a_${e.action.action}`),
      h("code", { class: "raw" }, JSON.stringify(Object.fromEntries(Object.entries(e.action).filter(([k]) => k !== "action"))))] })))));
}

function stepForm(c, name, [endpoint, , fields]) {
  const form = h("form", { class: "step", "data-step": name, onsubmit: async (ev) => {
    ev.preventDefault();
    const fd = new FormData(ev.target);
    const body = endpoint === "actions" ? { action: name } : {};
    try {
      for (const [f, kind] of fields) {
        if (kind === "file") {
          const file = fd.get(f);
          if (file && file.size) {
            const r = await fetch(`/api/v1/cases/${c.id}/attachments?name=${enc(file.name)}`, { method: "POST", body: file, headers: { "Content-Type": file.type || "application/octet-stream" } });
            const a = await r.json();
            if (!r.ok) throw new Error(a.error);
            body.attachments = [a.id];
          }
        } else if (kind === "checkbox") body[f] = fd.get(f) === "on";
        else if (kind === "datetime") { if (fd.get(f)) body[f] = toRfc(fd.get(f)); }
        else if (fd.get(f)) body[f] = fd.get(f);
      }
      await post(`/api/v1/cases/${c.id}/${endpoint}`, body);
      await route();
    } catch (e) { alert(e.message); }
  } }, h("b", {}, t(`a_${name}`)));
  for (const [f, kind] of fields) {
    if (kind === "textarea") form.append(h("textarea", { name: f, placeholder: t(`f_${f}`) }));
    else if (kind === "checkbox") form.append(h("label", {}, h("input", { type: "checkbox", name: f }), ` ${t(`f_${f}`)}`));
    else if (kind === "file") form.append(h("input", { type: "file", name: f }));
    else if (kind === "datetime") form.append(h("label", {}, `${t(`f_${f}`)} `), h("input", { type: "datetime-local", name: f, value: f === "due" ? new Date(Date.now() + 8 * 3600e3 + 7 * 86400e3).toISOString().slice(0, 16) : bjNow() }));
    else if (kind.startsWith("select:")) form.append(h("select", { name: f }, kind.slice(7).split(",").map((o) => h("option", { value: o }, o))));
    else form.append(h("input", { name: f, placeholder: t(`f_${f}`), value: f === "district" ? (c.district || "") : null }));
  }
  form.append(h("button", { class: "act", type: "submit" }, t("submit")));
  return form;
}

// ---------------------------------------------------------------- registries, targets, devices

async function registriesPage(view) {
  const regs = await get("/api/v1/registries");
  view.append(h("h1", {}, t("registries")), table([t("id"), t("title"), t("total")], regs.map((r) => ({ item: r, cells: [r.name, App.lang === "zh" ? r.title_zh : r.title, String(r.count)] })), (r) => { location.hash = `#/registries/${r.name}`; }));
}

async function registryPage(view, name) {
  const schema = await get(`/api/v1/registries/${enc(name)}`);
  // Secret fields (a device password) are never sent: no column for them.
  const fields = schema.fields.filter((f) => !f.secret && f.type !== "geometry" && f.type !== "point").slice(0, 7);
  const q = h("input", { id: "registry-q", placeholder: t("search") });
  const districtField = schema.fields.find((f) => f.name === "district");
  const district = districtField ? h("select", { id: "registry-district" }, h("option", { value: "" }, t("district")),
    (districtField.values || []).map((v, i) => h("option", { value: v }, App.lang === "zh" ? (districtField.values_zh || [])[i] || v : v))) : null;
  // Every other field with a fixed list of values (status, kind, ...) filters too.
  const enumFilters = schema.fields.filter((f) => f.type === "enum" && f.name !== "district").slice(0, 3).map((f) =>
    h("select", { "data-filter": f.name }, h("option", { value: "" }, App.lang === "zh" ? f.label_zh : f.label),
      (f.values || []).map((v, i) => h("option", { value: v }, App.lang === "zh" ? (f.values_zh || [])[i] || v : v))));
  const out = h("div", { id: "registry-entries" });
  const hist = h("div", { id: "registry-history" });
  let page = 0;
  const load = async () => {
    const params = new URLSearchParams({ page: String(page), per_page: "50" });
    if (q.value) params.set("q", q.value);
    if (district && district.value) params.set("district", district.value);
    for (const sel of enumFilters) if (sel.value) params.set(sel.dataset.filter, sel.value);
    const r = await get(`/api/v1/registries/${enc(name)}/entries?${params}`);
    out.replaceChildren(h("p", { class: "muted" }, `${t("total")} ${r.total} · ${t("page")} ${page + 1}`),
      table(fields.map((f) => App.lang === "zh" ? f.label_zh : f.label), r.entries.map((e) => ({ item: e, cells: fields.map((f) => enumLabel(f, e.data[f.name])) })), async (e) => {
        const changes = await get(`/api/v1/registries/${enc(name)}/entries/${enc(e.id)}/history`);
        hist.replaceChildren(h("h2", {}, `${t("history")}: ${e.id}`), table([t("time"), t("actor"), "version"], changes.map((c) => ({ cells: [fmtTime(c.at), c.actor, String(c.version)] }))));
      }));
  };
  const file = h("input", { type: "file", id: "registry-import", accept: ".csv,.xlsx" });
  view.append(h("h1", {}, App.lang === "zh" ? schema.title_zh : schema.title),
    h("div", { class: "toolbar" }, q, district, enumFilters, h("button", { class: "act", onclick: () => { page = 0; load(); } }, t("search")),
      h("button", { class: "act secondary", onclick: () => { page = Math.max(0, page - 1); load(); } }, "◀"),
      h("button", { class: "act secondary", onclick: () => { page += 1; load(); } }, "▶"),
      h("a", { href: `/api/v1/registries/${enc(name)}/export?format=xlsx&lang=${App.lang}` }, `${t("export")} XLSX`),
      h("a", { href: `/api/v1/registries/${enc(name)}/export?format=csv&lang=${App.lang}` }, `${t("export")} CSV`),
      App.caps.has("write_registries") ? [t("import"), file, h("button", { class: "act secondary", onclick: async () => {
        const f = file.files[0];
        if (!f) return;
        try { const r = await api("POST", `/api/v1/registries/${enc(name)}/import`, f, f.type || "application/octet-stream"); alert(JSON.stringify(r)); load(); }
        catch (e) { alert(e.message); }
      } }, t("import"))] : null),
    out, hist);
  await load();
}

/// An enumerated value in the user's language (`lixia` → 历下区), other values as they are.
function enumLabel(field, v) {
  const i = field.type === "enum" && App.lang === "zh" ? (field.values || []).indexOf(v) : -1;
  return i >= 0 && field.values_zh && field.values_zh[i] ? field.values_zh[i] : fmtCell(v);
}

function fmtCell(v) { return v === undefined || v === null ? "" : typeof v === "object" ? JSON.stringify(v) : typeof v === "boolean" ? (v ? t("yes") : t("no")) : String(v); }

async function targetsPage(view) {
  const targets = await get("/api/v1/targets");
  const cards = targets.map((x) => {
    const el = h("div", { class: "spark" });
    setTimeout(() => {
      if (typeof uPlot === "undefined" || !x.series || x.series.length < 1) return;
      const xs = x.series.map((p) => Date.parse(`${p.date}T00:00:00+08:00`) / 1000);
      new uPlot({ width: 320, height: 120, legend: { show: false }, series: [{}, { stroke: "#0d4f6c", points: { show: true } }, { stroke: "#b36b00", dash: [4, 4] }],
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Asia/Shanghai") }, [xs, x.series.map((p) => p.value), xs.map(() => x.goal)], el);
    }, 0);
    return h("div", { class: "card", "data-target": x.id }, h("h2", {}, App.lang === "zh" ? x.title_zh || x.title : x.title),
      h("div", {}, `${t("value")}: ${x.value === null ? "—" : fmtValue(x.value, x.measure)} · ${t("goal")}: ${fmtValue(x.goal, x.measure)} · ${t("forecast")}: ${x.forecast === null || x.forecast === undefined ? "—" : fmtValue(x.forecast, x.measure)} · ${t("onTrack")}: ${x.on_track === null || x.on_track === undefined ? "—" : x.on_track ? t("yes") : t("no")} · ${t("deadline")}: ${x.deadline}`),
      x.note ? h("p", { class: "muted" }, x.note) : null, el);
  });
  view.append(h("h1", {}, t("targets")), h("div", { class: "grid" }, h("div", {}, cards.filter((_, i) => i % 2 === 0)), h("div", {}, cards.filter((_, i) => i % 2 === 1))));
}

async function devicesPage(view, mn) {
  const devices = await get("/api/v1/devices");
  view.append(h("h1", {}, t("devices")), table(["MN", t("online"), t("peer"), t("lastPacket"), t("packets")],
    devices.map((d) => ({ item: d, cells: [d.mn, d.online ? t("yes") : t("no"), d.peer, fmtTime(d.last_packet || ""), String(d.packets)] })),
    (d) => { location.hash = `#/devices/${enc(d.mn)}`; }));
  if (mn) {
    const packets = await get(`/api/v1/packets?mn=${enc(mn)}&limit=100`);
    view.append(h("h2", { id: "packets-of" }, `${t("packets")} · ${mn}`), table([t("received"), "CN", t("crc"), t("disposition"), "raw"],
      packets.map((p) => ({ cells: [fmtTime(p.received), p.cn || "", p.crc_given && p.crc_computed && p.crc_given.toUpperCase() === p.crc_computed.toUpperCase() ? `${p.crc_variant || ""} ✔` : `✘ ${p.crc_given || ""}/${p.crc_computed || ""}`, p.reason ? `${p.status}: ${p.reason}` : p.status, h("code", { class: "raw" }, p.raw)] }))));
  }
}

// ---------------------------------------------------------------- admin: users and the audit log

const ROLES = ["admin", "duty_officer", "district_officer", "analyst", "registry_clerk", "device_operator", "enterprise"];

async function adminPage(view) {
  const [users, audit] = await Promise.all([get("/api/v1/users"), get("/api/v1/audit?limit=200")]);
  const form = h("form", { class: "card step", id: "new-user", onsubmit: async (ev) => {
    ev.preventDefault();
    const fd = new FormData(ev.target);
    const body = { username: fd.get("username"), role: fd.get("role"), password: fd.get("password"), display_name: fd.get("display_name") || undefined };
    if (fd.get("district")) body.district = fd.get("district");
    if (fd.get("enterprise")) body.enterprise = fd.get("enterprise");
    try { await post("/api/v1/users", body); await route(); } catch (e) { alert(e.message); }
  } }, h("h2", {}, `${t("create")} · ${t("users")}`),
    h("input", { name: "username", placeholder: t("username"), required: true }),
    h("input", { name: "display_name", placeholder: t("displayName") }),
    h("select", { name: "role" }, ROLES.map((r) => h("option", { value: r }, r))),
    h("input", { name: "district", placeholder: t("district") }),
    h("input", { name: "enterprise", placeholder: t("enterprise") }),
    h("input", { name: "password", type: "password", placeholder: t("password"), required: true, autocomplete: "new-password" }),
    h("button", { class: "act", type: "submit" }, t("create")));
  const toggle = (u) => async () => {
    try { await api("PUT", `/api/v1/users/${enc(u.username)}`, { disabled: !u.disabled }); await route(); } catch (e) { alert(e.message); }
  };
  view.append(h("h1", {}, t("admin")), h("h2", {}, t("users")),
    table([t("username"), t("role"), t("district"), t("enterprise"), t("disabled"), ""], users.map((u) => ({ cells: [
      `${u.username} (${u.display_name})`, u.role, u.district || "", u.enterprise || "", u.disabled ? t("yes") : t("no"),
      u.username === App.me.username ? "" : h("button", { class: "act secondary", onclick: toggle(u) }, u.disabled ? t("enable") : t("disable"))] }))),
    form,
    h("h2", {}, t("audit")),
    h("div", { id: "audit-log" }, table([t("time"), t("actor"), t("method"), t("path"), t("status"), "before", "after"], audit.map((a) => ({ cells: [
      fmtTime(a.at), a.actor, a.method, a.path, String(a.status),
      h("code", { class: "raw" }, a.before ? JSON.stringify(a.before).slice(0, 300) : ""),
      h("code", { class: "raw" }, a.after ? JSON.stringify(a.after).slice(0, 300) : "")] })))));
}

// ---------------------------------------------------------------- start

document.getElementById("lang").addEventListener("click", () => {
  App.lang = App.lang === "zh" ? "en" : "zh";
  localStorage.setItem("huanghe.lang", App.lang);
  if (App.me) route(); else showLogin();
});
document.getElementById("logout").addEventListener("click", async () => {
  try { await post("/api/v1/auth/logout"); } catch { /* already out */ }
  showLogin();
});
window.addEventListener("hashchange", route);
applyI18n();
start();
