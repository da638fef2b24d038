// huanghe web UI: one page, hash routes, plain DOM over the JSON API. Served by the binary
// with its libraries (uPlot for charts, Leaflet and its marker clustering for the map); nothing
// is loaded from elsewhere. Chinese by default, English on request; times in Beijing time.
//
// Conventions every page follows (the pages to come copy them):
// - names, never codes: points, enterprises and districts by name in the UI language (`nameOf`,
//   `districtName`), factors by name and unit from the API's one factor table (`factorLabel`),
//   every enumerated value through `t()` with a prefix (`role_`, `rule_`, `sev_`, `kind_`, ...);
// - values with units and a precision fit for their size (`fmtNum`), counts as integers;
// - a table row that leads somewhere is a link or a focusable row that Enter opens;
// - forms pick from lists the API serves; confirmations are forms, never `prompt()`;
// - data typed in by people (addresses, findings) is shown as entered, marked `data-entered`.
"use strict";

const I18N = {
  zh: {
    brand: "智慧生态黄河监管平台", logout: "退出", login: "登录", username: "用户名", password: "密码", skip: "跳到正文", menu: "菜单",
    overview: "一张图", alarms: "报警", fraud: "疑似弄虚作假线索", cases: "案件", registries: "台账", targets: "目标", devices: "设备", admin: "用户与审计",
    trucks: "重型车远程监控", plate: "号牌", vin: "车辆识别代号", fleet: "车队", owner: "所属企业", truckState: "状态", speed: "车速", lastFrame: "最近上报",
    vs_driving: "行驶", vs_parked: "停驶", vs_silent: "长时间无数据", vs_never: "从未上报", allStates: "全部状态", trackOf: "当日轨迹", trackDate: "日期",
    truckChart: "近一小时数据", rpm: "发动机转速", noxUp: "SCR上游NOx", noxDown: "SCR下游NOx", scrIn: "SCR入口温度", scrOut: "SCR出口温度", reagent: "尿素余量",
    noTrack: "当日没有定位", engineFamily: "发动机系族", positions: "定位点",
    obdInfo: "当日OBD信息", mil: "故障指示灯", milOn: "亮", milOff: "灭", calId: "软件标定号", cvn: "标定验证码", dtcs: "故障码", diagProtocol: "诊断协议", monitorsSupported: "支持的诊断项", noObd: "当日没有OBD信息",
    fam_manual_entry: "人工录入", fam_dilution: "稀释", fam_frozen_analyser: "仪器冻结", score: "可疑分值", families: "证据类别", clues: "线索", firstSeen: "首次", lastSeen: "最近",
    suspectEnterprises: "企业", suspectPoints: "点位", formula: "计分方法", suspect: "可疑",
    points: "点位", loginFailed: "登录失败", forbidden: "无权查看", notFound: "不存在", loading: "加载中…",
    cityAqi: "全市空气质量", cityAqiNow: "当前小时", cityAqiToday: "今日（日均）", stationRanking: "空气站 AQI 排名",
    sectionsTable: "地表水断面", alarmsToday: "今日报警", onlineCapture: "污染源在线与传输", casesCard: "案件办理", targetProgress: "年度目标进度",
    legend: "图例", legendAlarm: "报警", legendOffline: "离线", legendOk: "正常", legendNoData: "无数据",
    layerAir: "空气站", layerWater: "水质断面", layerSources: "污染源排口", layerRivers: "河流", layerDistricts: "区县",
    searchPoint: "搜索点位名称", noMatch: "没有匹配的点位", openChart: "查看曲线", online: "在线", offline: "离线", neverSeen: "从未上报",
    latest: "最新数据", chart: "曲线", series: "数据类型", factors: "监测因子", from: "开始", to: "结束", load: "查询",
    panLeft: "◀ 前移", panRight: "后移 ▶", resetZoom: "复位", limit: "排放限值", flagged: "非正常标记", alarmWindow: "报警时段", classBound: "类",
    assessment: "评价", acknowledge: "确认", dismiss: "忽略", reason: "原因", openCase: "立案", inCase: "已立案", cancel: "取消",
    id: "编号", point: "点位", rule: "报警类型", severity: "级别", state: "状态", start: "开始", end: "结束", handling: "处理",
    where: "位置", what: "内容", howMuch: "数值与阈值", since: "开始时间", duration: "持续", all: "全部",
    live: "实时推送已连接", liveOff: "实时推送未连接", title: "标题", district: "区县", enterprise: "企业", officer: "承办人", mode: "方式",
    opened: "立案时间", due: "期限", overdue: "已超期", events: "办理过程", actions: "可执行操作", evidence: "下载证据包",
    chainOk: "事件链校验通过", chainBroken: "事件链被篡改", actor: "人员", time: "时间", action: "动作",
    submit: "提交", search: "搜索", export: "导出", import: "导入", history: "变更历史", page: "第 {n} 页，共 {m} 页", prev: "上一页", next: "下一页",
    total: "共", value: "当前值", goal: "目标值", forecast: "年底预测", onTrack: "按期完成", deadline: "期限",
    lastPacket: "最后上报", packets: "报文", peer: "地址", received: "接收时间", crc: "CRC", disposition: "处理结果", rawFrame: "原始报文（密码已隐去）",
    yes: "是", no: "否", none: "无", description: "描述", file: "附件", sound: "声音提示",
    rtd: "实时数据", min: "分钟数据", hour: "小时数据", day: "日数据", figures: "执法统计", offSiteShare: "非现场执法占比",
    users: "用户", audit: "审计日志", role: "角色", disabled: "已停用", disable: "停用", displayName: "显示名", create: "创建", enable: "启用",
    inspectionPlan: "导出年度检查计划（CSV）", missingLib: "缺少前端库（构建时需 Node.js/npm）：",
    before: "修改前", after: "修改后", field: "字段", version: "版本", entry: "条目", created: "新建", deleted: "删除", changedFields: "变更字段",
    flag: "标记", standard: "依据标准", hourlyAqi: "小时 AQI", dailyAqi: "日 AQI", aqi: "AQI", level: "级别", primary: "首要污染物",
    item: "项目", klass: "类别", target: "目标类别", meets: "达标", notMeets: "未达标", deciding: "定类项目", thisHour: "本小时", today: "今日", thisMonth: "本月",
    mean: "小时均值", converted: "折算浓度", validMinutes: "有效分钟", valid: "有效", invalid: "无效", exceeds: "超标",
    noiseDay: "昼间 Ld", noiseNight: "夜间 Ln", zone: "声环境功能区", offlineOnly: "仅显示离线", rows: "条", open: "未办结",
    openCases: "未办结", overdueCases: "超期", onlineRate: "在线率", captureRate: "今日传输有效率", sourcesOnline: "在线 {a} / {b}",
    criticalPinned: "严重报警（置顶）", newCritical: "新的严重报警", caseFrom: "由报警立案",
    uEnt: "家", uVehicles: "辆", uVillages: "个", uMachinery: "台", uOutlets: "个",
    e_opened: "{actor} 立案：{title}", e_dispatched: "{actor} 派发至{district}，承办人 {officer}{due}", e_off_site_review: "{actor} 非现场核查：{findings}",
    e_inspection: "{inspector} 于 {inspected} 现场检查：{findings}", e_rectification_requested: "{actor} 下达整改：{requirement}，期限 {due}",
    e_responded: "企业反馈：{statement}", e_response_returned: "{actor} 退回反馈：{reason}", e_verified: "{actor} 核查（{method}）：{detail}",
    e_closed: "{actor} 办结：{conclusion}{violation}", e_reopened: "{actor} 重新办理：{reason}", e_escalated: "超期督办（{stage}，期限 {due}）", e_commented: "{actor} 备注：{text}",
    violationYes: "（存在违法行为）", dueAt: "，期限 {due}",
    au_t_points: "点位", au_t_users: "用户", au_t_registries: "台账", au_t_cases: "案件", au_t_alarms: "报警", au_t_tokens: "访问令牌",
    au_s_dispatch: "派发", au_s_actions: "办理", au_s_response: "企业反馈", au_s_acknowledge: "确认", au_s_dismiss: "忽略", au_s_import: "导入", au_s_attachments: "附件", au_s_entries: "条目", au_s_password: "密码",
    au_login: "登录", au_logout: "退出", au_create: "新建", au_update: "修改", au_delete: "删除", au_action: "操作",
    s_open: "待派发", s_dispatched: "已派发", s_investigated: "已调查", s_rectifying: "整改中", s_responded: "企业已反馈", s_verified: "已核查", s_closed: "已办结",
    s_raised: "报警中", s_cleared: "已恢复", s_withdrawn: "已撤销",
    a_opened: "立案", a_dispatched: "派发", a_off_site_review: "非现场核查", a_inspection: "现场检查", a_rectification_requested: "下达整改",
    a_responded: "企业反馈", a_response_returned: "退回反馈", a_verified: "核查", a_closed: "办结", a_reopened: "重新办理", a_escalated: "超期督办", a_commented: "备注",
    f_findings: "核查发现", f_notice: "告知企业内容", f_inspector: "检查人员", f_inspected: "检查时间", f_requirement: "整改要求", f_due: "整改期限",
    f_statement: "整改说明", f_reason: "原因", f_method: "方式", f_detail: "核查情况", f_conclusion: "办结结论", f_violation: "存在违法行为", f_text: "备注",
    f_officer: "承办人", f_district: "区县", f_file: "附件",
    m_off_site: "非现场执法", m_on_site: "现场执法", vm_data: "数据核查", vm_inspection: "现场核查",
    src_alarms: "报警", src_manual: "人工", src_registry: "台账",
    role_admin: "管理员", role_duty_officer: "值班员", role_district_officer: "区县执法人员", role_analyst: "分析员", role_registry_clerk: "台账员", role_device_operator: "设备运维", role_enterprise: "企业用户",
    sev_info: "提示", sev_warning: "警告", sev_critical: "严重",
    kind_gas_outlet: "废气排放口", kind_water_outlet: "废水排放口", kind_air_station: "空气站", kind_water_section: "水质断面", kind_noise: "噪声", kind_radiation: "辐射", kind_other: "其他",
    rule_source_exceedance: "污染源小时均值超标", rule_air_high_value: "空气质量高值", rule_flags_too_long: "异常标记持续过长", rule_device_silent: "设备离线",
    rule_realtime_exceedance: "实时数据超限（提示）", rule_invalid_hour: "小时数据无效", rule_water_target_class: "水质未达目标类别", rule_noise_zone: "噪声超功能区限值",
    rule_sudden_change: "水质突变", rule_air_above_peers: "空气站明显高于全市", rule_manual_entry: "人工录入数据", rule_flat_line: "数据长时间不变（疑似冻结）", rule_stuck_at_detection_limit: "数据长期处于检出限附近", rule_implausible_o2: "运行中含氧量接近空气（疑似稀释）", rule_stop_mark: "运行中标记停产", rule_flat_line_water: "废水数据长时间不变（疑似冻结）", rule_low_variance: "数据长期在量程2%以内波动", rule_step_change: "负荷未变而浓度骤降", rule_dilution: "含氧量与浓度同步变化（疑似稀释）", rule_water_flow: "流量与浓度矛盾", rule_bunching: "数据集中于限值下方", rule_mark_exceedance: "超标时段被标记为故障或维护", fam_steering: "压线控制", rule_gaps_around_exceedances: "超标后数据中断", fam_withholding: "超标时中断传输", rule_flat_line_air: "空气站数据长时间不变", rule_low_variance_air: "空气站数据长期窄幅波动", rule_air_neighbour_divergence: "空气站明显低于周边站点", rule_last_digit: "数据尾数分布异常", rule_fgd_temperature: "湿法脱硫后烟温过高", fam_interference: "干扰采样", fam_digits: "尾数异常", fam_bypass: "治理设施旁路", fam_calibration: "篡改参数", fam_flow_mismatch: "流量与浓度矛盾", fam_marking: "违规标记",
    ev_stop: "连续 {n} 小时标记停产（F），流量 {flow}，常态 {usual}（阈值 {share}%）",
    ev_o2: "连续 {n} 小时 O₂ ≥ {o2}%（最高 {max}%），流量不低于常态 {flow} 的 {share}%",
    ev_dl: "{share}% 的运行小时 ≤ {factor}×检出限 {dl}（{source}；{n} 个运行小时，阈值 {min}%）",
    ev_band: "连续 {days} 天每天波动 ≤ {band}（量程 {range} 的 {share}%），最宽一天 {widest}",
    ev_step: "近 {recent} 小时均值 {now}，前 30 天均值 {before}（σ {sd}），下降 {shift}σ（阈值 {threshold}σ）；流量变化 {flow}",
    ev_dilution: "含氧量 {o2min}–{o2max}%，实测浓度与 (21−O₂) 相关系数 {r}（阈值 {min}），折算浓度变异系数 {cv}",
    ev_waterflow: "近 {days} 天中 {n} 天出现流量与浓度矛盾（零流量时浓度变化，或有流量时浓度不变）",
    ev_neigh: "近 {recent} 小时与周边 {n} 个站点中位数之比 {now}，前一周为 {before}（降至 {change}%，阈值 {max}%；偏离 {shift}σ）",
    ev_digits: "近 30 天 {n} 个值的末位数字分布 χ² = {chi2}（阈值 {critical}）；末位为 0 的 {zeros} 个、为 5 的 {fives} 个",
    ev_fgd: "湿法脱硫后烟气温度连续 {hours} 小时高于 {max} °C（最高 {top} °C），同期上报 SO₂ {so2}",
    ev_gaps: "近 7 天 {n} 次在高于限值 {share}% 的小时后数据中断（比例 {after}%，全部小时后中断比例 {rate}%）",
    ev_bunch: "{value}，限值 {limit}；{share}% 的运行小时位于限值的 {from}% 至限值之间（阈值 {min}%）",
    ev_markx: "“{flag}”标记时段值 {value} 高于限值 {limit}；近 7 天 {n} 个标记小时超标，未标记运行小时超标 {m} 个",
    ev_flat: "{value} 连续 {hours} 小时不变（阈值 {threshold} 小时）",
    ev_manual: "手工输入标记（S）{n} 条",
    ev_exceed: "{value} 超过限值 {limit}", ev_converted: "折算 {value}（O₂ {o2}%，基准 {ref}%）超过限值 {limit}", ev_silent: "已 {silent} 无数据（允许 {allowed}）",
    ev_iaqi: "浓度 {value}，分指数 {iaqi} 超过 {threshold}", ev_flags: "非正常标记 {minutes} 分钟（允许 {threshold} 分钟）",
    ev_invalid: "有效 {valid} 分钟，需 {required} 分钟", ev_class: "{value}，{klass} 类，目标 {target} 类", ev_noise: "Leq {value} dB(A) 超过 {limit} dB(A)（{period}）",
    ev_peers: "{value}，其他 {n} 站均值 {mean}，阈值 {threshold}", ev_sudden: "{value}，前 {hours} 小时均值 {mean}，阈值 {threshold}", ev_rt: "{n}/{m} 个实时值超过 {limit}",
    period_day: "昼间", period_night: "夜间", flag_N: "正常", flag_F: "停运", flag_M: "维护", flag_S: "手工输入", flag_D: "故障", flag_C: "校准", flag_T: "超测上限", flag_B: "通讯异常",
    min_s: "{n} 分钟", hour_s: "{n} 小时", day_s: "{n} 天", minutesShort: "分钟",
    shown: "显示 {n} 条", markers: "{n} 个点位", hoursCapture: "小时数据", status: "状态码",
    h_acknowledge: "已确认", h_acknowledged: "已确认", h_dismiss: "已忽略", h_dismissed: "已忽略",
  },
  en: {
    brand: "Smart Ecological Yellow River", logout: "Log out", login: "Log in", username: "User name", password: "Password", skip: "Skip to content", menu: "Menu",
    overview: "Map", alarms: "Alarms", fraud: "Suspected data fraud", cases: "Cases", registries: "Registries", targets: "Targets", devices: "Devices", admin: "Users & audit",
    trucks: "Heavy-duty trucks", plate: "Plate", vin: "VIN", fleet: "Fleet", owner: "Owner", truckState: "State", speed: "Speed", lastFrame: "Last report",
    vs_driving: "driving", vs_parked: "parked", vs_silent: "silent for days", vs_never: "never reported", allStates: "All states", trackOf: "Track of the day", trackDate: "Date",
    truckChart: "The last hour", rpm: "Engine speed", noxUp: "NOx before SCR", noxDown: "NOx after SCR", scrIn: "SCR inlet temperature", scrOut: "SCR outlet temperature", reagent: "Urea level",
    noTrack: "No positions that day", engineFamily: "Engine family", positions: "positions",
    obdInfo: "OBD information of the day", mil: "Malfunction lamp", milOn: "on", milOff: "off", calId: "Calibration ID", cvn: "CVN", dtcs: "Trouble codes", diagProtocol: "Diagnostic protocol", monitorsSupported: "Monitors supported", noObd: "No OBD information that day",
    fam_manual_entry: "manual entry", fam_dilution: "dilution", fam_frozen_analyser: "frozen analyser", score: "Score", families: "Evidence families", clues: "Clues", firstSeen: "First", lastSeen: "Last",
    suspectEnterprises: "Enterprises", suspectPoints: "Points", formula: "How the score is made", suspect: "suspect",
    points: "Points", loginFailed: "Login failed", forbidden: "Not allowed", notFound: "Not found", loading: "Loading…",
    cityAqi: "City air quality", cityAqiNow: "This hour", cityAqiToday: "Today (daily)", stationRanking: "Air stations by AQI",
    sectionsTable: "Water sections", alarmsToday: "Today's alarms", onlineCapture: "Sources online and reporting", casesCard: "Casework", targetProgress: "Targets this year",
    legend: "Legend", legendAlarm: "alarm", legendOffline: "offline", legendOk: "normal", legendNoData: "no data",
    layerAir: "Air stations", layerWater: "Water sections", layerSources: "Source outlets", layerRivers: "Rivers", layerDistricts: "Districts",
    searchPoint: "Search a point by name", noMatch: "No point matches", openChart: "Open the chart", online: "online", offline: "offline", neverSeen: "never reported",
    latest: "Latest values", chart: "Chart", series: "Series", factors: "Factors", from: "From", to: "To", load: "Load",
    panLeft: "◀ Earlier", panRight: "Later ▶", resetZoom: "Reset", limit: "emission limit", flagged: "flagged", alarmWindow: "alarm window", classBound: "class",
    assessment: "Assessment", acknowledge: "Acknowledge", dismiss: "Dismiss", reason: "Reason", openCase: "Open case", inCase: "In a case", cancel: "Cancel",
    id: "Id", point: "Point", rule: "Alarm", severity: "Severity", state: "State", start: "Start", end: "End", handling: "Handling",
    where: "Where", what: "What", howMuch: "Value and threshold", since: "Since", duration: "Duration", all: "all",
    live: "live updates on", liveOff: "live updates off", title: "Title", district: "District", enterprise: "Enterprise", officer: "Officer", mode: "Mode",
    opened: "Opened", due: "Due", overdue: "overdue", events: "Events", actions: "Actions", evidence: "Download the evidence package",
    chainOk: "event chain verified", chainBroken: "event chain broken", actor: "By", time: "Time", action: "Action",
    submit: "Submit", search: "Search", export: "Export", import: "Import", history: "History", page: "page {n} of {m}", prev: "Previous", next: "Next",
    total: "total", value: "Value", goal: "Goal", forecast: "Year-end forecast", onTrack: "On track", deadline: "Deadline",
    lastPacket: "Last packet", packets: "Packets", peer: "Peer", received: "Received", crc: "CRC", disposition: "Disposition", rawFrame: "Raw frame (password hidden)",
    yes: "yes", no: "no", none: "none", description: "Description", file: "Attachment", sound: "Sound",
    rtd: "real-time", min: "minute", hour: "hourly", day: "daily", figures: "Enforcement figures", offSiteShare: "Off-site share",
    users: "Users", audit: "Audit log", role: "Role", disabled: "Disabled", disable: "Disable", displayName: "Display name", create: "Create", enable: "Enable",
    inspectionPlan: "Export the year's inspection plan (CSV)", missingLib: "Missing browser library (Node.js/npm are needed at build time): ",
    before: "Before", after: "After", field: "Field", version: "Version", entry: "Entry", created: "created", deleted: "deleted", changedFields: "Changed fields",
    flag: "Flag", standard: "Standard", hourlyAqi: "Hourly AQI", dailyAqi: "Daily AQI", aqi: "AQI", level: "Level", primary: "Primary pollutant",
    item: "Item", klass: "Class", target: "Target class", meets: "meets the target", notMeets: "misses the target", deciding: "Deciding items", thisHour: "This hour", today: "Today", thisMonth: "This month",
    mean: "Hourly mean", converted: "Converted", validMinutes: "Valid minutes", valid: "valid", invalid: "invalid", exceeds: "Exceeds",
    noiseDay: "Day Ld", noiseNight: "Night Ln", zone: "Zone class", offlineOnly: "Offline only", rows: "rows", open: "open",
    openCases: "Open", overdueCases: "Overdue", onlineRate: "Online", captureRate: "Reported today", sourcesOnline: "{a} of {b} online",
    criticalPinned: "Critical alarms (pinned)", newCritical: "New critical alarm", caseFrom: "Opened from an alarm",
    uEnt: "enterprises", uVehicles: "vehicles", uVillages: "villages", uMachinery: "machines", uOutlets: "outlets",
    e_opened: "{actor} opened the case: {title}", e_dispatched: "{actor} dispatched it to {district}, officer {officer}{due}", e_off_site_review: "{actor} reviewed off site: {findings}",
    e_inspection: "{inspector} inspected on site at {inspected}: {findings}", e_rectification_requested: "{actor} requested rectification: {requirement}, due {due}",
    e_responded: "The enterprise responded: {statement}", e_response_returned: "{actor} returned the response: {reason}", e_verified: "{actor} verified ({method}): {detail}",
    e_closed: "{actor} closed the case: {conclusion}{violation}", e_reopened: "{actor} reopened it: {reason}", e_escalated: "Escalated as overdue ({stage}, due {due})", e_commented: "{actor} commented: {text}",
    violationYes: " (violation established)", dueAt: ", due {due}",
    au_t_points: "point", au_t_users: "user", au_t_registries: "registry", au_t_cases: "case", au_t_alarms: "alarm", au_t_tokens: "access token",
    au_s_dispatch: "dispatch", au_s_actions: "step", au_s_response: "response", au_s_acknowledge: "acknowledgement", au_s_dismiss: "dismissal", au_s_import: "import", au_s_attachments: "attachment", au_s_entries: "entry", au_s_password: "password",
    au_login: "logged in", au_logout: "logged out", au_create: "created", au_update: "changed", au_delete: "deleted", au_action: "acted on",
    s_open: "open", s_dispatched: "dispatched", s_investigated: "investigated", s_rectifying: "rectifying", s_responded: "responded", s_verified: "verified", s_closed: "closed",
    s_raised: "raised", s_cleared: "cleared", s_withdrawn: "withdrawn",
    a_opened: "opened", a_dispatched: "Dispatch", a_off_site_review: "Off-site review", a_inspection: "On-site inspection", a_rectification_requested: "Request rectification",
    a_responded: "Enterprise response", a_response_returned: "Return the response", a_verified: "Verify", a_closed: "Close", a_reopened: "Reopen", a_escalated: "Escalated (overdue)", a_commented: "Comment",
    f_findings: "Findings", f_notice: "Notice to the enterprise", f_inspector: "Inspectors", f_inspected: "Inspected at", f_requirement: "Requirement", f_due: "Due",
    f_statement: "Statement", f_reason: "Reason", f_method: "Method", f_detail: "Detail", f_conclusion: "Conclusion", f_violation: "Violation established", f_text: "Text",
    f_officer: "Officer", f_district: "District", f_file: "Attachment",
    m_off_site: "off-site enforcement", m_on_site: "on-site enforcement", vm_data: "data check", vm_inspection: "inspection",
    src_alarms: "alarms", src_manual: "manual", src_registry: "registry",
    role_admin: "administrator", role_duty_officer: "duty officer", role_district_officer: "district officer", role_analyst: "analyst", role_registry_clerk: "registry clerk", role_device_operator: "device operator", role_enterprise: "enterprise user",
    sev_info: "info", sev_warning: "warning", sev_critical: "critical",
    kind_gas_outlet: "Flue-gas outlet", kind_water_outlet: "Wastewater outlet", kind_air_station: "Air station", kind_water_section: "Water section", kind_noise: "Noise", kind_radiation: "Radiation", kind_other: "Other",
    rule_source_exceedance: "Source hourly mean above its limit", rule_air_high_value: "Air quality high value", rule_flags_too_long: "Abnormal flags too long", rule_device_silent: "Device silent",
    rule_realtime_exceedance: "Real-time value above the limit (info)", rule_invalid_hour: "Invalid hour", rule_water_target_class: "Water below its target class", rule_noise_zone: "Noise above the zone limit",
    rule_sudden_change: "Sudden change in water quality", rule_air_above_peers: "Station well above the city", rule_manual_entry: "Values entered by hand", rule_flat_line: "Value frozen for hours", rule_stuck_at_detection_limit: "Stuck at the detection limit", rule_implausible_o2: "Near-ambient O₂ while running (dilution?)", rule_stop_mark: "Marked stopped while running", rule_flat_line_water: "Waste-water value frozen for hours", rule_low_variance: "Values in a narrow band for days", rule_step_change: "Level fell at an unchanged load", rule_dilution: "Values following O₂ (dilution?)", rule_water_flow: "Flow and concentration contradict", rule_bunching: "Values piled up just under the limit", rule_mark_exceedance: "Exceedances marked as fault or maintenance", fam_steering: "steering", rule_gaps_around_exceedances: "Data stop after high hours", fam_withholding: "withheld data", rule_flat_line_air: "Station value frozen for hours", rule_low_variance_air: "Station values in a narrow band for days", rule_air_neighbour_divergence: "Station fell below its neighbours", rule_last_digit: "Last digits not random", rule_fgd_temperature: "Hot flue gas after a wet scrubber", fam_interference: "interference", fam_digits: "last digits", fam_bypass: "abatement bypassed", fam_calibration: "changed calibration", fam_flow_mismatch: "flow mismatch", fam_marking: "marking",
    ev_stop: "{n} consecutive hours marked stopped (F) at a flow of {flow}, usual {usual} (threshold {share}%)",
    ev_o2: "O₂ ≥ {o2}% for {n} consecutive hours (up to {max}%) at no less than {share}% of the usual flow {flow}",
    ev_dl: "{share}% of running hours ≤ {factor} × detection limit {dl} ({source}; {n} running hours, threshold {min}%)",
    ev_band: "{days} days in a row within {band} a day ({share}% of the range {range}); widest day {widest}",
    ev_step: "mean of the last {recent} hours {now} against {before} over 30 days (σ {sd}): {shift}σ (threshold {threshold}σ); flow changed {flow}",
    ev_dilution: "O₂ {o2min}–{o2max}%; measured value follows (21 − O₂) with correlation {r} (threshold {min}); converted value's coefficient of variation {cv}",
    ev_waterflow: "flow and concentration contradict on {n} of the last {days} days (changing at zero flow, or unchanged with flow)",
    ev_neigh: "ratio to the median of {n} neighbouring stations {now} over the last {recent} hours, {before} the week before (down to {change}%, threshold {max}%; {shift}σ)",
    ev_digits: "last digits of {n} values in 30 days: χ² = {chi2} (threshold {critical}); {zeros} end in 0, {fives} in 5",
    ev_fgd: "flue gas above {max} °C for {hours} hours after a wet scrubber (up to {top} °C) while SO₂ was reported at {so2}",
    ev_gaps: "data stopped after {n} hours above {share}% of the limit in 7 days ({after}% of such hours, {rate}% after any hour)",
    ev_bunch: "{value} against a limit of {limit}; {share}% of running hours between {from}% of the limit and the limit (threshold {min}%)",
    ev_markx: "{value} above the limit {limit} in an hour flagged {flag}; {n} marked hours above the limit in 7 days, {m} unmarked running hours",
    ev_flat: "{value} unchanged for {hours} running hours (threshold {threshold} h)",
    ev_manual: "{n} records flagged S (manual input)",
    ev_exceed: "{value} above the limit {limit}", ev_converted: "converted {value} (O₂ {o2}%, reference {ref}%) above the limit {limit}", ev_silent: "silent for {silent} (allowed {allowed})",
    ev_iaqi: "concentration {value}, IAQI {iaqi} above {threshold}", ev_flags: "flagged {minutes} min (allowed {threshold} min)",
    ev_invalid: "{valid} valid minutes, {required} needed", ev_class: "{value}, class {klass}, target {target}", ev_noise: "Leq {value} dB(A) above {limit} dB(A) ({period})",
    ev_peers: "{value}; mean of {n} other stations {mean}; threshold {threshold}", ev_sudden: "{value}; mean of the previous {hours} h {mean}; threshold {threshold}", ev_rt: "{n} of {m} real-time values above {limit}",
    period_day: "day", period_night: "night", flag_N: "normal", flag_F: "stopped", flag_M: "maintenance", flag_S: "manual entry", flag_D: "fault", flag_C: "calibration", flag_T: "above range", flag_B: "communication fault",
    min_s: "{n} min", hour_s: "{n} h", day_s: "{n} d", minutesShort: "min",
    shown: "{n} shown", markers: "{n} points", hoursCapture: "hourly records", status: "Status",
    h_acknowledge: "acknowledged", h_acknowledged: "acknowledged", h_dismiss: "dismissed", h_dismissed: "dismissed",
  },
};

const App = {
  lang: localStorage.getItem("huanghe.lang") === "en" ? "en" : "zh",
  me: null,
  caps: new Set(),
  stream: null,
  chart: null,
  timers: [],
  sound: localStorage.getItem("huanghe.sound") === "on",
};
window.HuangheApp = App; // for the browser tests
App.I18N = I18N;

/** A text of the UI language; `{name}` placeholders filled from `vars`. */
function t(key, vars) {
  let s = (I18N[App.lang] && I18N[App.lang][key]) ?? I18N.zh[key] ?? humanize(key);
  if (vars) s = s.replace(/\{(\w+)\}/g, (_, k) => (vars[k] === undefined || vars[k] === null ? "" : String(vars[k])));
  return s;
}
App.t = t;

/** The translation of `prefix + value` when there is one, else the value made readable. */
function tv(prefix, value) {
  if (value === null || value === undefined || value === "") return "";
  const k = prefix + value;
  return (I18N[App.lang] && I18N[App.lang][k]) ?? (App.lang === "zh" ? I18N.zh[k] : undefined) ?? humanize(String(value));
}
/** `off_site` → "Off site": a fallback for values no dictionary names. */
function humanize(s) { const x = String(s).replace(/_/g, " "); return x.charAt(0).toUpperCase() + x.slice(1); }

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
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
async function safe(p) { try { return await get(p); } catch (e) { if (e.status === 401) throw e; return null; } }
function enc(s) { return encodeURIComponent(s); }

// ---------------------------------------------------------------- names: one place each

/** Fetched once per login: factors, districts, points (with their enterprises' names). */
const Names = { factors: null, districts: null, points: null };
function cached(key, path, wrap) {
  if (!Names[key]) Names[key] = get(path).then(wrap).catch((e) => { Names[key] = null; if (e.status === 401) throw e; return wrap([]); });
  return Names[key];
}
const loadFactors = () => cached("factors", "/api/v1/factors", (l) => new Map(l.map((f) => [f.code, f])));
const loadDistricts = () => cached("districts", "/api/v1/districts", (l) => new Map(l.map((d) => [d.code, d])));
const loadPoints = () => cached("points", "/api/v1/points", (l) => new Map(l.map((p) => [p.id, p])));
async function loadNames() { const [factors, districts, points] = await Promise.all([loadFactors(), loadDistricts(), loadPoints()]); return { factors, districts, points }; }

/** A registry or API object's name in the UI language (`name_en` in English when there is one). */
function nameOf(o) { return o ? (App.lang === "en" && o.name_en) || o.name || o.id || "" : ""; }
function districtName(districts, code) { const d = code && districts.get(code); return d ? (App.lang === "en" ? d.name_en : d.name_zh) : code || ""; }
function enterpriseName(p) { return p ? (App.lang === "en" && p.enterprise_name_en) || p.enterprise_name || p.enterprise || "" : ""; }
/** The enterprise name of a credit code, from the points that belong to it. */
function enterpriseByCode(points, code) { for (const p of points.values()) if (p.enterprise === code) return enterpriseName(p); return code || ""; }
function factorName(factors, code) { const f = factors.get(code); return f ? (App.lang === "zh" ? f.name_zh : f.name_en) : code; }
function unitOf(factors, code, point) {
  const f = factors.get(code);
  const own = point && point.codes && point.codes[code] && point.codes[code].unit;
  return own || (f && point && point.kind === "air_station" && f.unit_air_station) || (f && f.unit) || "";
}
/** A factor as people read it at a point: name and unit. */
function factorLabel(factors, code, point) { const u = unitOf(factors, code, point); return u ? `${factorName(factors, code)} (${u})` : factorName(factors, code); }

// ---------------------------------------------------------------- numbers and times

/** A value with a precision fit for its size: 3 significant digits, at most 3 decimals. */
function fmtNum(v) {
  const x = typeof v === "number" ? v : parseFloat(v);
  if (!Number.isFinite(x)) return v === null || v === undefined ? "" : String(v);
  const a = Math.abs(x);
  const d = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  return x.toLocaleString(App.lang === "zh" ? "zh-CN" : "en-GB", { maximumFractionDigits: d, minimumFractionDigits: 0 });
}
function fmtInt(v) { return Number.isFinite(v) ? Math.round(v).toLocaleString(App.lang === "zh" ? "zh-CN" : "en-GB") : ""; }
function withUnit(v, unit) { const s = fmtNum(v); return s && unit ? `${s} ${unit}` : s; }
function fmtTime(s) { return s ? String(s).replace("T", " ").replace(/(:\d\d)(\.\d+)?\+08:00$/, "$1").replace(/:00$/, "") : ""; }
function fmtUnix(sec) { return sec ? fmtTime(new Date(sec * 1000 + 8 * 3600e3).toISOString().slice(0, 16)) : ""; }
function fmtMs(ms) { return ms ? fmtTime(new Date(ms + 8 * 3600e3).toISOString().slice(0, 16)) : ""; }
function fmtDuration(sec) {
  if (!(sec >= 0)) return "";
  if (sec < 3600) return t("min_s", { n: Math.max(1, Math.round(sec / 60)) });
  if (sec < 2 * 86400) return t("hour_s", { n: Math.round(sec / 360) / 10 });
  return t("day_s", { n: Math.round(sec / 8640) / 10 });
}
function bjNow() { return new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 16); }
function toRfc(local) { return local.length === 16 ? `${local}:00+08:00` : `${local}+08:00`; }
function localOf(ms) { return new Date(ms + 8 * 3600e3).toISOString().slice(0, 16); }

function errorBox(e) {
  if (e.status === 403) return h("p", { class: "error", "data-error": "forbidden" }, `${t("forbidden")}: ${e.message}`);
  if (e.status === 404) return h("p", { class: "error", "data-error": "not-found" }, `${t("notFound")}: ${e.message}`);
  return h("p", { class: "error" }, e.message || String(e));
}

/** A table; `open(item)` makes rows focusable links (click or Enter). */
function table(headers, rows, open, attrs) {
  return h("div", { class: "table-wrap" }, h("table", attrs || {},
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows.map((r) => {
      const tr = h("tr", open ? { class: `clickable ${r.class || ""}`, tabindex: "0", onclick: () => open(r.item), onkeydown: (ev) => { if (ev.key === "Enter") open(r.item); } } : { class: r.class || null }, r.cells.map((c) => h("td", {}, c)));
      if (r.attrs) for (const [k, v] of Object.entries(r.attrs)) tr.setAttribute(k, v);
      return tr;
    }))));
}
function card(id, title, ...body) { return h("section", { class: "card", id, "aria-label": title }, h("h2", {}, title), body); }
/** Free text typed in by people, shown as entered (the browser test knows it is data). */
function entered(s) { return h("span", { "data-entered": "" }, s); }
function labelled(text, input) { return h("label", { class: "field" }, h("span", {}, text), input); }

/** A modal form (acknowledge, dismiss...): resolves with the form's data or null. */
function ask(title, fields) {
  return new Promise((resolve) => {
    const dlg = h("dialog", { class: "ask", "aria-label": title });
    const form = h("form", { method: "dialog", onsubmit: (ev) => { ev.preventDefault(); const fd = new FormData(form); dlg.close(); dlg.remove(); resolve(fd); } },
      h("h2", {}, title), fields,
      h("p", { class: "buttons" }, h("button", { class: "act", type: "submit", "data-ask": "ok" }, t("submit")), " ",
        h("button", { class: "act secondary", type: "button", onclick: () => { dlg.close(); dlg.remove(); resolve(null); } }, t("cancel"))));
    dlg.append(form);
    document.body.append(dlg);
    dlg.addEventListener("cancel", () => { dlg.remove(); resolve(null); });
    dlg.showModal();
    const first = form.querySelector("textarea, input, select");
    if (first) first.focus();
  });
}
function flashError(e) { const box = document.getElementById("announce"); box.textContent = e.message || String(e); const m = document.getElementById("main"); m.prepend(h("p", { class: "error", role: "alert" }, e.message || String(e))); }

// ---------------------------------------------------------------- shell, login, routing

const NAV = [
  ["overview", "#/", "read_data"],
  ["alarms", "#/alarms", "read_alarms"],
  ["fraud", "#/fraud", "read_alarms"],
  ["cases", "#/cases", "read_cases"],
  ["registries", "#/registries", "read_registries"],
  ["targets", "#/targets", "read_registries"],
  ["trucks", "#/vehicles", "read_data"],
  ["devices", "#/devices", "read_devices"],
  ["admin", "#/admin", "manage_users"],
];

function applyI18n() {
  document.documentElement.lang = App.lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-label]").forEach((el) => { el.setAttribute("aria-label", t(el.dataset.i18nLabel)); });
  const lang = document.getElementById("lang");
  lang.textContent = App.lang === "zh" ? "English" : "中文";
  lang.setAttribute("lang", App.lang === "zh" ? "en" : "zh-CN");
  const nav = document.getElementById("nav");
  const here = (location.hash.replace(/^#/, "") || "/").split("?")[0];
  nav.replaceChildren(...(App.me ? NAV.filter(([, , cap]) => App.caps.has(cap)).map(([k, href]) => {
    const path = href.slice(1);
    const active = path === "/" ? here === "/" || here.startsWith("/points") : here.startsWith(path);
    return h("a", { href, "data-nav": k, class: active ? "active" : null, "aria-current": active ? "page" : null }, t(k));
  }) : []));
  document.getElementById("who").textContent = App.me ? `${App.me.display_name} · ${tv("role_", App.me.role)}` : "";
  document.getElementById("logout").hidden = !App.me;
}

function showLogin(message) {
  App.me = null;
  Names.factors = Names.districts = Names.points = null;
  stopLive();
  applyI18n();
  const err = h("p", { class: "error", id: "login-error", role: "alert" }, message || "");
  const form = h("form", { class: "card login", id: "login-form", onsubmit: async (ev) => {
    ev.preventDefault();
    const fd = new FormData(ev.target);
    try {
      await api("POST", "/api/v1/auth/login", { username: fd.get("username"), password: fd.get("password") });
      await start();
    } catch (e) { err.textContent = `${t("loginFailed")}: ${e.message}`; }
  } },
  h("h1", {}, t("brand")),
  labelled(t("username"), h("input", { name: "username", autocomplete: "username", required: true })),
  labelled(t("password"), h("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
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

function stopLive() {
  if (App.stream) { App.stream.close(); App.stream = null; }
  for (const x of App.timers) clearInterval(x);
  App.timers = [];
}

/** The hash route: `#/points/ID?code=...&from=...`. */
function parseHash() {
  const [path, query] = (location.hash.replace(/^#/, "") || "/").split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(query || "") };
}

let routeSeq = 0;
async function route() {
  if (!App.me) return;
  const seq = ++routeSeq;
  applyI18n();
  stopLive();
  if (App.chart) { App.chart.destroy(); App.chart = null; }
  const main = document.getElementById("main");
  const { parts, query } = parseHash();
  main.replaceChildren(h("p", { class: "muted" }, t("loading")));
  const missing = window.HUANGHE_MISSING || [];
  const view = h("div", {});
  if (missing.length) view.append(h("p", { class: "error" }, t("missingLib") + missing.join(", ")));
  try {
    if (parts.length === 0) await overview(view);
    else if (parts[0] === "points" && parts[1]) await pointPage(view, parts[1], query);
    else if (parts[0] === "alarms") await alarmsPage(view, query);
    else if (parts[0] === "fraud") await fraudPage(view, query);
    else if (parts[0] === "cases" && parts[1]) await casePage(view, parts[1]);
    else if (parts[0] === "cases") await casesPage(view);
    else if (parts[0] === "registries" && parts[1]) await registryPage(view, parts[1]);
    else if (parts[0] === "registries") await registriesPage(view);
    else if (parts[0] === "targets") await targetsPage(view);
    else if (parts[0] === "devices") await devicesPage(view, parts[1], query);
    else if (parts[0] === "vehicles" && parts[1]) await vehiclePage(view, parts[1], query);
    else if (parts[0] === "vehicles") await vehiclesPage(view, query);
    else if (parts[0] === "admin") await adminPage(view);
    else view.append(errorBox({ status: 404, message: location.hash }));
  } catch (e) {
    if (e.status === 401) return;
    view.append(errorBox(e));
  }
  if (seq !== routeSeq) return;
  main.replaceChildren(view);
  main.dataset.page = parts[0] || "overview";
  const h1 = view.querySelector("h1");
  document.title = `${h1 ? h1.textContent : t("brand")} · ${t("brand")}`;
  view.dispatchEvent(new Event("attached"));
}

// ---------------------------------------------------------------- heavy-duty trucks

const VEHICLE_STATES = ["driving", "parked", "silent", "never"];
function vehicleStateBadge(s) { return h("span", { class: s === "driving" ? "good" : s === "silent" ? "error" : "muted", "data-state": s }, tv("vs_", s)); }
function plateOf(v) { return (v.registry && v.registry.plate) || v.vin; }

async function vehiclesPage(view, query) {
  const [vehicles, { districts, points }] = await Promise.all([get("/api/v1/vehicles"), loadNames()]);
  const q = h("input", { id: "vehicle-q", type: "search", value: query.get("q") || "" });
  const stateSel = h("select", { id: "vehicle-state" }, h("option", { value: "" }, t("allStates")), VEHICLE_STATES.map((s) => h("option", { value: s, selected: query.get("state") === s }, tv("vs_", s))));
  const out = h("div", { id: "vehicle-list" });
  let page = 0;
  const render = () => {
    const needle = q.value.trim().toUpperCase();
    const rows = vehicles.filter((v) => (!stateSel.value || v.state === stateSel.value) && (!needle || v.vin.includes(needle) || plateOf(v).toUpperCase().includes(needle) || String(v.registry.fleet || "").toUpperCase().includes(needle)));
    const pages = Math.max(1, Math.ceil(rows.length / 50));
    page = Math.min(page, pages - 1);
    out.replaceChildren(h("p", { class: "muted" }, `${t("total")} ${fmtInt(rows.length)} · ${t("page", { n: page + 1, m: pages })}`),
      table([t("plate"), t("vin"), t("fleet"), t("owner"), t("district"), t("truckState"), `${t("speed")} (km/h)`, t("lastFrame")], rows.slice(page * 50, page * 50 + 50).map((v) => ({ item: v, attrs: { "data-vin": v.vin }, cells: [
        entered(plateOf(v)), v.vin, v.registry.fleet ? entered(v.registry.fleet) : "—", enterpriseByCode(points, v.registry.enterprise) || "—", districtName(districts, v.registry.district),
        vehicleStateBadge(v.state), v.latest && v.latest.speed !== null ? fmtNum(v.latest.speed) : "—", fmtTime(v.last_frame || "") || "—"] })),
      (v) => { location.hash = `#/vehicles/${enc(v.vin)}`; }),
      h("p", { class: "toolbar" }, h("button", { class: "act secondary", type: "button", onclick: () => { page = Math.max(0, page - 1); render(); } }, t("prev")),
        h("button", { class: "act secondary", type: "button", onclick: () => { page += 1; render(); } }, t("next"))));
  };
  view.append(h("h1", {}, t("trucks")), h("div", { class: "toolbar" }, labelled(t("search"), q), labelled(t("truckState"), stateSel)), out);
  q.addEventListener("input", () => { page = 0; render(); });
  stateSel.addEventListener("change", () => { page = 0; render(); });
  render();
}

async function vehiclePage(view, vin, query) {
  const today = new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10);
  const date = query.get("date") || today;
  const dayFrom = `${date}T00:00:00+08:00`, dayTo = new Date(Date.parse(dayFrom) + 86400e3 + 8 * 3600e3).toISOString().slice(0, 10) + "T00:00:00+08:00";
  const [v, track, records, obdRecords, { districts, points }] = await Promise.all([
    get(`/api/v1/vehicles/${enc(vin)}`), get(`/api/v1/vehicles/${enc(vin)}/track?date=${enc(date)}`),
    get(`/api/v1/vehicles/${enc(vin)}/records`),
    get(`/api/v1/vehicles/${enc(vin)}/records?type=1&from=${enc(dayFrom)}&to=${enc(dayTo)}`), loadNames()]);
  const r = v.registry;
  view.append(h("h1", {}, entered(plateOf(v)), ` · ${v.vin}`),
    card("vehicle-info", t("trucks"), table([t("truckState"), t("fleet"), t("owner"), t("district"), t("engineFamily"), t("lastFrame")],
      [{ cells: [vehicleStateBadge(v.state), r.fleet ? entered(r.fleet) : "—", enterpriseByCode(points, r.enterprise) || "—", districtName(districts, r.district), r.engine_family ? entered(r.engine_family) : "—", fmtTime(v.last_frame || "") || "—"] }])));
  const dateIn = h("input", { type: "date", id: "track-date", value: date, onchange: () => { location.hash = `#/vehicles/${enc(vin)}?date=${dateIn.value}`; } });
  const mapEl = h("div", { class: "map small-map", id: "track-map", "data-points": String(track.points.length) });
  view.append(card("vehicle-track", `${t("trackOf")} · ${fmtInt(track.points.length)} ${t("positions")}`, h("div", { class: "toolbar" }, labelled(t("trackDate"), dateIn)),
    track.points.length ? mapEl : h("p", { class: "muted" }, t("noTrack"))));
  const PROTOCOLS = ["ISO 15765", "ISO 27145", "SAE J1939"];
  const dtcText = (d) => (d.layout === "j1939" ? `SPN ${d.spn} FMI ${d.fmi}` : `${d.code}`);
  const text = (x) => String(x || "").replace(/(\\x00|\s)+$/g, "");
  const obds = obdRecords.filter((x) => x.values && x.values.type === "obd");
  const lastObd = obds.length ? obds[obds.length - 1].values : null;
  view.append(card("vehicle-obd", t("obdInfo"), lastObd ? [
    table([t("diagProtocol"), t("mil"), t("calId"), t("cvn"), t("monitorsSupported"), t("dtcs")], [{ cells: [
      lastObd.protocol === null ? "—" : PROTOCOLS[lastObd.protocol] || String(lastObd.protocol), lastObd.mil_on === null ? "—" : lastObd.mil_on ? h("span", { class: "error" }, t("milOn")) : t("milOff"),
      h("code", {}, text(lastObd.cal_id)), h("code", {}, String(lastObd.cvn || "").slice(0, 8)), fmtInt((lastObd.supported_monitors || []).length),
      (lastObd.dtc_codes || []).length ? h("code", {}, lastObd.dtc_codes.map(dtcText).join(", ")) : t("none")] }]),
    table([t("time"), t("mil"), t("dtcs")], obds.slice().reverse().map((x) => ({ cells: [fmtTime(x.time), x.values.mil_on ? h("span", { class: "error" }, t("milOn")) : t("milOff"),
      (x.values.dtc_codes || []).length ? h("code", {}, x.values.dtc_codes.map(dtcText).join(", ")) : t("none")] })))] : h("p", { class: "muted" }, t("noObd"))));
  const chartEl = h("div", { class: "chart", id: "truck-chart" });
  const streams = records.filter((x) => x.values && (x.values.type === "diesel" || x.values.type === "gas"));
  view.append(card("vehicle-chart", t("truckChart"), streams.length ? chartEl : h("p", { class: "muted" }, t("none"))));
  view.addEventListener("attached", () => {
    if (track.points.length && typeof L !== "undefined") {
      const map = L.map(mapEl, { keyboard: true, zoomSnap: 0.5 });
      const tiles = document.body.dataset.tileUrl;
      if (tiles && !tiles.startsWith("{{")) L.tileLayer(tiles, { attribution: document.body.dataset.tileAttribution || "" }).addTo(map);
      const line = L.polyline(track.points.map(([, lon, lat]) => [lat, lon]), { color: "#0d4f6c", weight: 3 }).addTo(map);
      const [first, last] = [track.points[0], track.points[track.points.length - 1]];
      L.circleMarker([first[2], first[1]], { radius: 6, color: "#2e7d32" }).bindTooltip(fmtUnix(first[0])).addTo(map);
      L.circleMarker([last[2], last[1]], { radius: 7, color: "#c62828" }).bindTooltip(fmtUnix(last[0])).addTo(map);
      map.fitBounds(line.getBounds(), { padding: [20, 20] });
    }
    if (streams.length && typeof uPlot !== "undefined") {
      const xs = streams.map((x) => Date.parse(x.time) / 1000);
      const pick = (k) => streams.map((x) => (x.values[k] === null || x.values[k] === undefined ? null : x.values[k]));
      const defs = [["speed", "km/h", "#0d4f6c"], ["engine_speed", "rpm", "#6a1b9a"], ["nox_upstream", "ppm", "#8a5300"], ["nox_downstream", "ppm", "#c62828"],
        ["scr_inlet_temperature", "°C", "#2e7d32"], ["scr_outlet_temperature", "°C", "#558b2f"], ["reagent_level", "%", "#1565c0"]];
      const names = { speed: t("speed"), engine_speed: t("rpm"), nox_upstream: t("noxUp"), nox_downstream: t("noxDown"), scr_inlet_temperature: t("scrIn"), scr_outlet_temperature: t("scrOut"), reagent_level: t("reagent") };
      const opts = { width: Math.max(320, chartEl.clientWidth || 900), height: 300,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Asia/Shanghai"), fmtDate: (tpl) => uPlot.fmtDate(tpl, DATE_NAMES[App.lang]),
        series: [{ label: t("time"), value: (u, x) => (x === null ? "" : fmtUnix(x)) }, ...defs.map(([k, unit, stroke]) => ({ label: `${names[k]} (${unit})`, stroke, scale: unit, value: (u, y) => (y === null ? "—" : fmtNum(y)) }))],
        axes: [{}, { scale: "km/h", label: "km/h" }, { scale: "ppm", side: 1, label: "ppm", grid: { show: false } }] };
      App.chart = new uPlot(opts, [xs, ...defs.map(([k]) => pick(k))], chartEl);
      chartEl.dataset.points = String(xs.length);
    }
  });
}

// ---------------------------------------------------------------- overview: the monitoring centre's wall

const AQI_LEVELS = [[50, "#00e400", "#000"], [100, "#ffff00", "#000"], [150, "#ff7e00", "#000"], [200, "#ff0000", "#000"], [300, "#99004c", "#fff"], [Infinity, "#7e0023", "#fff"]];
function aqiColour(aqi) { const l = AQI_LEVELS.find(([top]) => aqi <= top); return l ? l : AQI_LEVELS[0]; }
function aqiBadge(report) {
  if (!report || report.aqi === null || report.aqi === undefined) return h("span", { class: "muted" }, "—");
  const [, bg, fg] = aqiColour(report.aqi);
  const cat = report.level ? (App.lang === "zh" ? report.level.category_zh : report.level.category_en) : "";
  return h("span", { class: "aqi", style: `background:${bg};color:${fg}` }, `${report.aqi} ${cat}`);
}
function primaryName(report) { return report && report.primary && report.primary.length ? report.primary.join(", ") : "—"; }

/** A marker's look: shape by kind, fill by state, a ring and "!" when alarmed (not colour alone). */
function markerIcon(p, st, extra) {
  const kind = p.kind === "air_station" ? "air" : p.kind === "water_section" ? "water" : "source";
  const alarmed = st && st.alarms > 0;
  const state = alarmed ? "alarm" : st && st.online === false ? "offline" : st && st.online ? "ok" : "nodata";
  const fill = extra && extra.fill;
  const html = `<span class="mk mk-${kind} st-${state}"${fill ? ` style="--fill:${fill}"` : ""}>${alarmed ? "!" : extra && extra.text ? extra.text : ""}</span>`;
  return L.divIcon({ className: `mk-wrap${alarmed ? " mk-alarmed" : ""}`, html, iconSize: [22, 22], iconAnchor: [11, 11] });
}

async function overview(view) {
  const t0 = performance.now();
  const [{ districts, points: pointMap, factors }, status] = await Promise.all([loadNames(), get("/api/v1/points/status")]);
  const points = [...pointMap.values()];
  const statusOf = new Map(status.map((s) => [s.id, s]));
  const located = points.filter((p) => Array.isArray(p.location));
  const stations = points.filter((p) => p.kind === "air_station");
  const sections = points.filter((p) => p.kind === "water_section");
  const sources = points.filter((p) => p.kind === "gas_outlet" || p.kind === "water_outlet");

  const mapEl = h("div", { id: "map", role: "application", "aria-label": t("overview") });
  const search = h("input", { id: "map-search", type: "search", list: "point-names", placeholder: t("searchPoint"), "aria-label": t("searchPoint") });
  const names = h("datalist", { id: "point-names" }, located.map((p) => h("option", { value: nameOf(p) })));
  const legend = h("div", { class: "legend", id: "legend" },
    h("span", { class: "mk mk-air st-ok" }), t("layerAir"), h("span", { class: "mk mk-water st-ok" }), t("layerWater"), h("span", { class: "mk mk-source st-ok" }), t("layerSources"), " · ",
    h("span", { class: "mk mk-source st-alarm" }, "!"), t("legendAlarm"), h("span", { class: "mk mk-source st-offline" }), t("legendOffline"), h("span", { class: "mk mk-source st-nodata" }), t("legendNoData"),
    ` · ${t("markers", { n: fmtInt(located.length) })}`);
  const side = h("div", { class: "cards" });
  const wall = h("div", { class: "wall" }, h("div", { class: "mapcol" }, h("div", { class: "toolbar" }, search, names), mapEl, legend), side);
  view.append(h("h1", {}, t("overview")), wall);

  // Cards, each filled as its figures arrive.
  const aqiCard = card("city-aqi", t("cityAqi"), h("p", { class: "muted" }, t("loading")));
  const rankCard = card("station-ranking", t("stationRanking"), h("p", { class: "muted" }, t("loading")));
  const waterCard = card("sections", t("sectionsTable"), h("p", { class: "muted" }, t("loading")));
  const alarmCard = App.caps.has("read_alarms") ? card("alarm-counts", t("alarmsToday"), h("p", { class: "muted" }, t("loading"))) : null;
  const onlineCard = card("online-capture", t("onlineCapture"));
  const caseCard = App.caps.has("read_cases") ? card("case-counts", t("casesCard"), h("p", { class: "muted" }, t("loading"))) : null;
  const targetCard = App.caps.has("read_registries") ? card("target-progress", t("targetProgress"), h("p", { class: "muted" }, t("loading"))) : null;
  side.append(aqiCard, alarmCard, rankCard, waterCard, onlineCard, caseCard, targetCard);
  const ready = (c) => { if (c) c.dataset.ready = "true"; };
  const fill = (c, ...body) => { c.replaceChildren(c.firstChild, ...body); ready(c); };

  const day = bjNow().slice(0, 10);
  const stationAqi = new Map();
  const lastHour = (r) => r && [...(r.hourly || [])].reverse().find((x) => x.report && x.report.aqi !== null && x.report.aqi !== undefined);
  const cityP = safe("/api/v1/aqi/city").then((aqi) => {
    const now = lastHour(aqi);
    fill(aqiCard, h("div", { class: "aqi-now" }, h("div", {}, h("div", { class: "muted" }, `${t("cityAqiNow")}${now ? ` · ${fmtTime(now.time).slice(11)}` : ""}`), h("div", { class: "figure" }, now ? aqiBadge(now.report) : "—"),
      h("div", { class: "muted" }, now ? `${t("primary")}: ${primaryName(now.report)}` : "")),
      h("div", {}, h("div", { class: "muted" }, t("cityAqiToday")), h("div", { class: "figure" }, aqi && aqi.daily && aqi.daily.aqi !== null ? aqiBadge(aqi.daily) : "—"))),
      h("p", { class: "muted small" }, aqi ? aqi.standard : ""));
  });
  const stationsP = Promise.all(stations.map((s) => safe(`/api/v1/points/${enc(s.id)}/aqi?date=${day}`).then((r) => { const x = lastHour(r); if (x) stationAqi.set(s.id, x.report); }))).then(() => {
    const ranked = stations.filter((s) => stationAqi.has(s.id)).sort((a, b) => stationAqi.get(b.id).aqi - stationAqi.get(a.id).aqi);
    fill(rankCard, ranked.length ? table(["#", t("point"), t("district"), t("aqi"), t("primary")], ranked.map((s, i) => ({ item: s, cells: [String(i + 1), nameOf(s), districtName(districts, s.district), aqiBadge(stationAqi.get(s.id)), primaryName(stationAqi.get(s.id))] })), (s) => { location.hash = `#/points/${enc(s.id)}`; }) : h("p", { class: "muted" }, t("none")));
  });
  const sectionInfo = new Map();
  const hourNow = `${bjNow().slice(0, 13)}:00:00+08:00`;
  const sectionsP = Promise.all(sections.map((s) => Promise.all([
    safe(`/api/v1/points/${enc(s.id)}/water?month=${day.slice(0, 7)}`),
    safe(`/api/v1/points/${enc(s.id)}/latest`),
  ]).then(async ([month, latest]) => {
    const newest = (latest || []).filter((o) => o.type === "hour").map((o) => o.time).sort().pop();
    const hour = newest ? await safe(`/api/v1/points/${enc(s.id)}/water?hour=${enc(newest)}`) : null;
    sectionInfo.set(s.id, { month, hour });
  }))).then(() => {
    const regKey = (s) => { const i = sectionInfo.get(s.id); return i && i.month && i.month.key_section ? 0 : 1; };
    const rows = [...sections].sort((a, b) => regKey(a) - regKey(b) || nameOf(a).localeCompare(nameOf(b)));
    const cls = (a) => (a && a.assessment && a.assessment.class) || "—";
    const meets = (a) => a && a.assessment && a.assessment.meets_target;
    fill(waterCard, table([t("point"), t("thisHour"), t("thisMonth"), t("target"), t("deciding")], rows.map((s) => {
      const i = sectionInfo.get(s.id) || {};
      const m = i.month;
      const badge = (a) => h("span", { class: meets(a) === false ? "bad" : meets(a) ? "good" : "muted" }, cls(a), meets(a) === false ? ` ✘` : meets(a) ? " ✔" : "");
      return { item: s, cells: [nameOf(s), badge(i.hour), badge(m), (m && m.target_class) || "—", m && m.assessment ? m.assessment.deciding.map((d) => itemName(factors, d)).join(", ") : "—"] };
    }), (s) => { location.hash = `#/points/${enc(s.id)}`; }), h("p", { class: "muted small" }, "GB 3838-2002 · ✔ " + t("meets") + " · ✘ " + t("notMeets")));
  });
  const renderOnline = () => {
    const seen = sources.map((p) => statusOf.get(p.id)).filter(Boolean);
    const on = seen.filter((s) => s.online).length;
    const caps = seen.map((s) => s.capture_today).filter((x) => typeof x === "number");
    const capture = caps.length ? caps.reduce((a, b) => a + b, 0) / caps.length : null;
    fill(onlineCard, h("div", { class: "pair" },
      h("div", {}, h("div", { class: "muted" }, t("onlineRate")), h("div", { class: "figure" }, sources.length ? `${fmtNum(100 * on / sources.length)}%` : "—"), h("div", { class: "muted" }, t("sourcesOnline", { a: fmtInt(on), b: fmtInt(sources.length) }))),
      h("div", {}, h("div", { class: "muted" }, t("captureRate")), h("div", { class: "figure" }, capture === null ? "—" : `${fmtNum(100 * capture)}%`), h("div", { class: "muted" }, t("hoursCapture")))));
  };
  renderOnline();
  const renderAlarms = async () => {
    if (!alarmCard) return;
    // Today's alarms and every alarm still raised, whenever it began.
    const [today, open] = await Promise.all([safe(`/api/v1/alarms?from=${enc(`${day}T00:00:00+08:00`)}&limit=10000`), safe("/api/v1/alarms?state=raised&limit=10000")]);
    const list = today || [];
    const raised = (open || []).length;
    const count = (f) => { const m = new Map(); for (const a of list) { const k = f(a); m.set(k, (m.get(k) || 0) + 1); } return [...m.entries()].sort((a, b) => b[1] - a[1]); };
    fill(alarmCard, h("div", { class: "pair" }, h("div", {}, h("div", { class: "muted" }, t("alarmsToday")), h("div", { class: "figure", id: "alarms-today" }, fmtInt(list.length))),
      h("div", {}, h("div", { class: "muted" }, tv("s_", "raised")), h("div", { class: "figure", id: "alarms-raised" }, fmtInt(raised)))),
      h("div", { class: "three" },
        table([t("rule"), ""], count((a) => a.rule_id).map(([k, n]) => ({ cells: [tv("rule_", k), fmtInt(n)] }))),
        table([t("severity"), ""], count((a) => a.severity).map(([k, n]) => ({ cells: [h("span", { class: `sev-${k}` }, tv("sev_", k)), fmtInt(n)] }))),
        table([t("district"), ""], count((a) => (pointMap.get(a.point_id) || {}).district || "").map(([k, n]) => ({ cells: [k ? districtName(districts, k) : "—", fmtInt(n)] })))));
  };
  const alarmsP = renderAlarms();
  const casesP = caseCard ? safe("/api/v1/cases?limit=10000").then((cases) => {
    const open = (cases || []).filter((c) => c.state !== "closed");
    const overdue = open.filter((c) => c.escalated || (c.due_ms && c.due_ms < Date.now()));
    fill(caseCard, h("div", { class: "pair" }, h("div", {}, h("div", { class: "muted" }, t("openCases")), h("div", { class: "figure" }, fmtInt(open.length))),
      h("div", {}, h("div", { class: "muted" }, t("overdueCases")), h("div", { class: `figure${overdue.length ? " bad" : ""}` }, fmtInt(overdue.length)))),
      h("p", {}, h("a", { href: "#/cases" }, t("cases"))));
  }) : null;
  const targetsP = targetCard ? safe("/api/v1/targets").then((targets) => {
    fill(targetCard, targets ? table([t("title"), t("value"), t("goal")], targets.map((x) => ({ cells: [targetTitle(x), fmtTarget(x.value, x), fmtTarget(x.goal, x)] }))) : h("p", { class: "muted" }, t("none")));
  }) : null;

  // The map, once the element is in the page.
  let markers = new Map();
  let clusters = null;
  const draw = () => {
    if (typeof L === "undefined") return;
    const map = L.map(mapEl, { preferCanvas: false, keyboard: true, zoomSnap: 0.5, minZoom: 6, maxZoom: 18 }).setView([36.65, 117.0], 9);
    App.map = map;
    const tiles = document.body.dataset.tileUrl;
    if (tiles && !tiles.startsWith("{{")) L.tileLayer(tiles, { attribution: document.body.dataset.tileAttribution || "" }).addTo(map);
    const overlays = {};
    let layerList = [];
    try { layerList = JSON.parse(document.body.dataset.layers || "[]"); } catch { layerList = []; }
    for (const l of layerList) {
      const group = L.layerGroup().addTo(map);
      overlays[l.id === "rivers" ? t("layerRivers") : l.title] = group;
      fetch(l.url).then((r) => r.json()).then((gj) => {
        L.geoJSON(gj, {
          interactive: false,
          style: l.id === "rivers" ? { color: "#3b7fc4", weight: 3, opacity: 0.8 } : { color: "#5a6470", weight: 1.5, fill: false, dashArray: "4 3" },
          onEachFeature: (f, layer) => { const n = f.properties && (App.lang === "en" ? f.properties.name_en : f.properties.name_zh) || (f.properties && f.properties.name); if (n) layer.bindTooltip(n, { permanent: l.id === "rivers", direction: "center", className: "river-label" }); },
        }).addTo(group);
        mapEl.dataset.layers = String((Number(mapEl.dataset.layers) || 0) + 1);
      }).catch(() => {});
    }
    // District names at the centre of their registered points.
    const byDistrict = new Map();
    for (const p of located) if (p.district) { const a = byDistrict.get(p.district) || [0, 0, 0]; a[0] += p.location[0]; a[1] += p.location[1]; a[2] += 1; byDistrict.set(p.district, a); }
    const labels = L.layerGroup(); overlays[t("layerDistricts")] = labels; labels.addTo(map);
    for (const [d, [x, y, n]] of byDistrict) L.marker([y / n, x / n], { interactive: false, keyboard: false, icon: L.divIcon({ className: "district-label", html: escapeHtml(districtName(districts, d)), iconSize: [90, 18], iconAnchor: [45, 9] }) }).addTo(labels);
    const clusterOf = () => L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 40, disableClusteringAtZoom: 12,
      iconCreateFunction: (c) => { const alarmed = c.getAllChildMarkers().filter((m) => m.options.alarmed).length; return L.divIcon({ className: `cluster${alarmed ? " cluster-alarm" : ""}`, html: `<span>${c.getChildCount()}${alarmed ? `<b>!${alarmed}</b>` : ""}</span>`, iconSize: [36, 36] }); } });
    const layerAir = L.layerGroup().addTo(map), layerWater = L.layerGroup().addTo(map);
    clusters = clusterOf().addTo(map);
    overlays[t("layerAir")] = layerAir; overlays[t("layerWater")] = layerWater; overlays[t("layerSources")] = clusters;
    L.control.layers(null, overlays, { collapsed: window.innerWidth < 700 }).addTo(map);
    const popup = (p) => {
      const st = statusOf.get(p.id) || {};
      const el = h("div", { class: "popup" }, h("b", {}, nameOf(p)), h("div", { class: "muted" }, [tv("kind_", p.kind), districtName(districts, p.district), enterpriseName(p)].filter(Boolean).join(" · ")),
        h("div", {}, st.online === undefined || st.online === null ? t("neverSeen") : st.online ? `● ${t("online")}` : `○ ${t("offline")}`, st.last_packet ? ` · ${t("lastPacket")} ${fmtTime(st.last_packet)}` : ""),
        st.alarms ? h("div", { class: "sev-critical" }, `! ${fmtInt(st.alarms)} ${t("alarms")}`) : null,
        h("div", { class: "latest" }, t("loading")), h("a", { href: `#/points/${enc(p.id)}` }, t("openChart")));
      safe(`/api/v1/points/${enc(p.id)}/latest`).then((latest) => {
        const hourly = (latest || []).filter((o) => o.type === "hour").slice(0, 8);
        el.querySelector(".latest").replaceChildren(hourly.length ? h("table", {}, hourly.map((o) => h("tr", {}, h("td", {}, factorName(factors, o.code)), h("td", {}, withUnit(o.fields.avg ?? o.fields.rtd, unitOf(factors, o.code, p)))))) : t("none"));
      });
      return el;
    };
    const place = () => {
      layerAir.clearLayers(); layerWater.clearLayers(); clusters.clearLayers();
      markers = new Map();
      const sourceMarkers = [];
      for (const p of located) {
        const st = statusOf.get(p.id);
        const extra = p.kind === "air_station" && stationAqi.has(p.id) ? { fill: aqiColour(stationAqi.get(p.id).aqi)[1], text: "" } :
          p.kind === "water_section" && sectionInfo.has(p.id) && sectionInfo.get(p.id).month ? { fill: sectionInfo.get(p.id).month.assessment && sectionInfo.get(p.id).month.assessment.meets_target === false ? "#e65100" : "#1565c0", text: (sectionInfo.get(p.id).month.assessment || {}).class || "" } : null;
        const alarmed = st && st.alarms > 0;
        const m = L.marker([p.location[1], p.location[0]], { icon: markerIcon(p, st, extra), title: nameOf(p), alt: nameOf(p), keyboard: true, alarmed, zIndexOffset: alarmed ? 1000 : 0, riseOnHover: true });
        m.bindPopup(() => popup(p));
        markers.set(p.id, m);
        if (p.kind === "air_station") m.addTo(layerAir); else if (p.kind === "water_section") m.addTo(layerWater); else sourceMarkers.push(m);
      }
      clusters.addLayers(sourceMarkers);
      mapEl.dataset.markers = String(markers.size);
      mapEl.dataset.alarmed = String([...statusOf.values()].filter((s) => s.alarms > 0).length);
    };
    place();
    if (located.length) map.fitBounds(located.map((p) => [p.location[1], p.location[0]]), { maxZoom: 12, padding: [20, 20] });
    search.addEventListener("change", () => {
      const q = search.value.trim();
      const p = located.find((x) => nameOf(x) === q) || located.find((x) => nameOf(x).includes(q) || x.id === q);
      if (!p) { search.setCustomValidity(t("noMatch")); search.reportValidity(); return; }
      search.setCustomValidity("");
      const m = markers.get(p.id);
      if (p.kind === "gas_outlet" || p.kind === "water_outlet") clusters.zoomToShowLayer(m, () => m.openPopup());
      else { map.setView(m.getLatLng(), Math.max(map.getZoom(), 12)); m.openPopup(); }
    });
    mapEl.dataset.ready = "true";
    App.overviewMapMs = performance.now() - t0;
    // Station colours and section classes once they are known; all cards.
    Promise.all([cityP, stationsP, sectionsP, alarmsP, casesP, targetsP]).then(() => {
      place();
      wall.dataset.complete = "true";
      App.overviewMs = performance.now() - t0;
    });
    // Live: alarm events move markers and counts; device state every minute.
    const refresh = async () => {
      const fresh = await safe("/api/v1/points/status");
      if (!fresh || !document.body.contains(mapEl)) return;
      statusOf.clear(); for (const s of fresh) statusOf.set(s.id, s);
      place(); renderOnline(); renderAlarms();
    };
    let pending = null;
    const soon = () => { if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, 1500); };
    if (App.caps.has("read_alarms")) {
      App.stream = new EventSource("/api/v1/alarms/stream");
      App.stream.onopen = () => { mapEl.dataset.live = "true"; };
      for (const kind of ["raised", "updated", "cleared", "reopened", "withdrawn"]) App.stream.addEventListener(kind, soon);
    }
    App.timers.push(setInterval(refresh, 60000));
  };
  view.addEventListener("attached", () => requestAnimationFrame(draw), { once: true });
}

/** A GB 3838 item (`nh3n`) by the name of its HJ 212 factor (the factor table names the item). */
function itemName(factors, item) {
  for (const f of factors.values()) if (f.water_item === item) return factorName(factors, f.code);
  return item.toUpperCase();
}

function targetTitle(x) { return App.lang === "zh" ? x.title_zh || x.title : x.title; }
const TARGET_UNITS = { vehicles: "uVehicles", villages: "uVillages", carbon_market_enterprises: "uEnt", non_road_machinery: "uMachinery", sewage_outlets: "uOutlets" };
function fmtTarget(v, x) {
  if (v === null || v === undefined) return "—";
  if (x.measure === "share") return `${fmtNum(v * 100)}%`;
  const u = TARGET_UNITS[x.registry];
  return `${fmtInt(v)}${u ? (App.lang === "zh" ? "" : " ") + t(u) : ""}`;
}
function escapeHtml(s) { return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c])); }

// ---------------------------------------------------------------- a point: chart, latest, assessment

/** Month and weekday names for chart axes in the UI language. */
const DATE_NAMES = {
  zh: { MMMM: [...Array(12).keys()].map((i) => `${i + 1}月`), MMM: [...Array(12).keys()].map((i) => `${i + 1}月`), WWWW: ["星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"], WWW: ["日", "一", "二", "三", "四", "五", "六"] },
  en: { MMMM: ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"], MMM: ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], WWWW: ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"], WWW: ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"] },
};
const COLOURS = ["#0d4f6c", "#8e24aa", "#2e7d32", "#c62828", "#ef6c00", "#5d4037"];

async function pointPage(view, id, query) {
  const [point, latest, { factors, districts }] = await Promise.all([get(`/api/v1/points/${enc(id)}`), get(`/api/v1/points/${enc(id)}/latest`), loadNames()]);
  const codes = [...new Set((latest || []).map((o) => o.code).concat(Object.keys(point.codes || {})))].sort((a, b) => factorName(factors, a).localeCompare(factorName(factors, b)));
  view.append(h("h1", {}, nameOf(point)),
    h("p", { class: "muted" }, [tv("kind_", point.kind), districtName(districts, point.district), enterpriseName(point)].filter(Boolean).join(" · ")));
  const typeSel = h("select", { id: "series-type" }, ["min", "hour", "rtd", "day"].map((x) => h("option", { value: x, selected: x === (query.get("type") || "min") }, t(x))));
  const wanted = (query.get("code") || "").split(",").filter(Boolean);
  const preferred = wanted.length ? wanted : [codes.find((c) => point.codes && point.codes[c] && point.codes[c].limit != null) || codes[0]].filter(Boolean);
  const picker = h("fieldset", { class: "picker", id: "series-codes" }, h("legend", {}, t("factors")),
    codes.map((c) => h("label", {}, h("input", { type: "checkbox", value: c, checked: preferred.includes(c), "data-code": c }), ` ${factorLabel(factors, c, point)}`)));
  const newest = (latest || []).map((o) => o.time).sort().pop();
  const endMs = query.get("to") ? Date.parse(query.get("to")) : newest ? Date.parse(newest) + 3600e3 : Date.now();
  const startMs = query.get("from") ? Date.parse(query.get("from")) : endMs - 25 * 3600e3;
  const fromIn = h("input", { id: "series-from", type: "datetime-local", value: localOf(startMs) });
  const toIn = h("input", { id: "series-to", type: "datetime-local", value: localOf(endMs) });
  const chartEl = h("div", { id: "chart" });
  const status = h("span", { class: "muted", id: "chart-status", role: "status" });
  const alarmsP = App.caps.has("read_alarms") ? safe(`/api/v1/alarms?point=${enc(id)}&limit=500`) : Promise.resolve([]);
  const load = async () => {
    const chosen = [...picker.querySelectorAll("input:checked")].map((x) => x.value);
    if (!chosen.length) { status.textContent = t("none"); return; }
    const from = toRfc(fromIn.value), to = toRfc(toIn.value);
    const [series, alarms] = await Promise.all([
      Promise.all(chosen.map((c) => get(`/api/v1/points/${enc(id)}/series?type=${typeSel.value}&code=${enc(c)}&from=${enc(from)}&to=${enc(to)}&limit=100000`))),
      alarmsP,
    ]);
    drawChart(chartEl, point, chosen, typeSel.value, series, factors, (alarms || []).filter((a) => !a.code || chosen.includes(a.code)));
    status.textContent = t("shown", { n: fmtInt(series.reduce((n, s) => n + s.length, 0)) });
  };
  const pan = (dir) => {
    if (!App.chart) return;
    const { min, max } = App.chart.scales.x;
    const w = (max - min) * 0.5 * dir;
    App.chart.setScale("x", { min: min + w, max: max + w });
  };
  view.append(h("section", { class: "card", "aria-label": t("chart") }, h("h2", {}, t("chart")),
    h("div", { class: "toolbar" }, labelled(t("series"), typeSel), labelled(t("from"), fromIn), labelled(t("to"), toIn),
      h("button", { class: "act", id: "series-load", onclick: load }, t("load")),
      h("button", { class: "act secondary", id: "pan-left", onclick: () => pan(-1) }, t("panLeft")),
      h("button", { class: "act secondary", id: "pan-right", onclick: () => pan(1) }, t("panRight")),
      h("button", { class: "act secondary", id: "zoom-reset", onclick: load }, t("resetZoom")),
      h("a", { id: "series-csv", href: "#", onclick: (ev) => { ev.currentTarget.href = `/api/v1/points/${enc(id)}/series?format=csv&type=${typeSel.value}&from=${enc(toRfc(fromIn.value))}&to=${enc(toRfc(toIn.value))}`; } }, `${t("export")} CSV`), status),
    picker, chartEl));
  picker.addEventListener("change", load);
  const latestRows = (latest || []).filter((o) => o.type === "hour" || o.type === "min").sort((a, b) => factorName(factors, a.code).localeCompare(factorName(factors, b.code)) || a.type.localeCompare(b.type));
  view.append(card("latest", t("latest"), table([t("factors"), t("series"), t("value"), t("flag"), t("time")], latestRows.map((o) => ({ cells: [
    factorName(factors, o.code), t(o.type), withUnit(o.fields.avg ?? o.fields.rtd, unitOf(factors, o.code, point)), tv("flag_", o.fields.flag || "N"), fmtTime(o.time)] })))));
  const assess = card("assessment", t("assessment"), h("p", { class: "muted" }, t("loading")));
  view.append(assess);
  const day = (newest || toRfc(bjNow())).slice(0, 10);
  const newestHour = (latest || []).filter((o) => o.type === "hour").map((o) => o.time).sort().pop();
  assessmentView(point, day, newestHour, factors).then((el) => { assess.replaceChildren(assess.firstChild, el); assess.dataset.ready = "true"; });
  if (codes.length) view.addEventListener("attached", () => load(), { once: true });
}

async function assessmentView(point, day, newest, factors) {
  const id = enc(point.id);
  const std = (s) => h("p", { class: "muted small" }, `${t("standard")}: ${s}`);
  if (point.kind === "air_station") {
    const a = await safe(`/api/v1/points/${id}/aqi?date=${day}`);
    if (!a) return h("p", { class: "muted" }, t("none"));
    const pols = ["so2", "no2", "co", "o3", "pm10", "pm25"];
    const polName = { so2: "SO₂", no2: "NO₂", co: "CO", o3: "O₃", pm10: "PM₁₀", pm25: "PM₂.₅" };
    const rows = (a.hourly || []).slice().reverse().map((x) => ({ cells: [fmtTime(x.time).slice(11), aqiBadge(x.report), primaryName(x.report),
      ...pols.map((p) => { const i = ((x.report && x.report.iaqi) || []).find((v) => v.pollutant === p); return i ? `${i.iaqi} (${i.concentration})` : "—"; })] }));
    return h("div", {}, h("h3", {}, `${t("dailyAqi")} · ${a.date}`), h("p", {}, aqiBadge(a.daily), a.daily && a.daily.missing && a.daily.missing.length ? h("span", { class: "muted" }, ` ${t("none")}: ${a.daily.missing.join(", ")}`) : null),
      h("h3", {}, t("hourlyAqi")), table([t("time"), t("aqi"), t("primary"), ...pols.map((p) => `IAQI ${polName[p]}`)], rows), std(a.standard));
  }
  if (point.kind === "water_section") {
    const [hour, dayA, month] = await Promise.all([
      newest ? safe(`/api/v1/points/${id}/water?hour=${enc(newest)}`) : null,
      safe(`/api/v1/points/${id}/water?date=${day}`), safe(`/api/v1/points/${id}/water?month=${day.slice(0, 7)}`)]);
    const periods = [[t("thisHour"), hour], [t("today"), dayA], [t("thisMonth"), month]];
    const items = [...new Set(periods.flatMap(([, p]) => (p && p.assessment ? p.assessment.items.map((i) => i.item) : [])))];
    const cell = (p, item) => { const i = p && p.assessment && p.assessment.items.find((x) => x.item === item); return i ? `${fmtNum(i.value)} · ${i.class || "—"}` : "—"; };
    const verdict = (p) => (p && p.assessment ? h("b", { class: p.assessment.meets_target === false ? "bad" : "good" }, `${p.assessment.class || "—"}${p.assessment.meets_target === false ? ` ✘ ${t("notMeets")}` : p.assessment.meets_target ? ` ✔ ${t("meets")}` : ""}`) : "—");
    return h("div", {}, h("p", {}, `${t("target")}: ${(month && month.target_class) || "—"}`),
      table([t("item"), ...periods.map(([n]) => n)], [...items.map((it) => ({ cells: [itemName(factors, it), ...periods.map(([, p]) => cell(p, it))] })),
        { cells: [t("klass"), ...periods.map(([, p]) => verdict(p))] }]), std("GB 3838-2002"));
  }
  if (point.kind === "noise") {
    const n = await safe(`/api/v1/points/${id}/noise?date=${day}`);
    if (!n || !n.verdict) return h("p", { class: "muted" }, (n && n.note) || t("none"));
    return h("div", {}, table(["", ""], Object.entries(n.verdict).filter(([, v]) => typeof v !== "object").map(([k, v]) => ({ cells: [humanize(k), typeof v === "boolean" ? (v ? t("yes") : t("no")) : fmtNum(v)] }))), std("GB 3096-2008"));
  }
  const e = await safe(`/api/v1/points/${id}/emissions?date=${day}`);
  if (!e || !Array.isArray(e) || !e.length) return h("p", { class: "muted" }, t("none"));
  const rows = e.slice().sort((a, b) => b.time.localeCompare(a.time) || a.code.localeCompare(b.code)).map((r) => ({ class: r.exceeds ? "row-bad" : null, cells: [
    fmtTime(r.time).slice(11), factorName(factors, r.code), withUnit(r.mean, unitOf(factors, r.code, point)), r.converted === null || r.converted === undefined ? "—" : withUnit(r.converted, unitOf(factors, r.code, point)),
    r.limit === null || r.limit === undefined ? "—" : withUnit(r.limit, unitOf(factors, r.code, point)), `${fmtInt(r.valid_minutes)} · ${r.valid ? t("valid") : t("invalid")}`, r.exceeds === null || r.exceeds === undefined ? "—" : r.exceeds ? h("b", { class: "bad" }, t("yes")) : t("no")] }));
  return h("div", {}, table([t("time"), t("factors"), t("mean"), t("converted"), t("limit"), t("validMinutes"), t("exceeds")], rows), std(point.kind === "gas_outlet" ? "HJ 75-2017 · GB 13223-2011" : "HJ 355-2019 · GB 18918-2002"));
}

function drawChart(el, point, codes, type, seriesRows, factors, alarms) {
  if (App.chart) { App.chart.destroy(); App.chart = null; }
  el.replaceChildren();
  if (typeof uPlot === "undefined") return;
  const field = type === "rtd" ? "rtd" : "avg";
  // One x axis over every series' times.
  const xsSet = new Set();
  for (const rows of seriesRows) for (const o of rows) xsSet.add(Date.parse(o.time) / 1000);
  const xs = [...xsSet].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const data = [xs];
  const series = [{}];
  const units = [];
  const bands = [];
  codes.forEach((code, k) => {
    const ys = new Array(xs.length).fill(null), flagged = new Array(xs.length).fill(null);
    for (const o of seriesRows[k]) {
      const i = at.get(Date.parse(o.time) / 1000);
      const v = parseFloat(o.fields[field] ?? o.fields.rtd ?? o.fields.avg);
      ys[i] = Number.isFinite(v) ? v : null;
      if (o.fields.flag && o.fields.flag !== "N" && Number.isFinite(v)) flagged[i] = v;
    }
    const unit = unitOf(factors, code, point);
    if (!units.includes(unit)) units.push(unit);
    const scale = `u${units.indexOf(unit)}`;
    const colour = COLOURS[k % COLOURS.length];
    data.push(ys); series.push({ label: factorLabel(factors, code, point), stroke: colour, width: 1.5, scale, value: (u, v) => (v === null ? "—" : fmtNum(v)) });
    data.push(flagged); series.push({ label: `${factorName(factors, code)} · ${t("flagged")}`, stroke: "#c62828", width: 0, scale, points: { show: true, size: 7, fill: "#c62828" }, value: (u, v) => (v === null ? "" : fmtNum(v)) });
    const setting = point.codes && point.codes[code];
    if (setting && setting.limit !== undefined && setting.limit !== null) {
      data.push(xs.map(() => setting.limit)); series.push({ label: `${factorName(factors, code)} ${t("limit")} ${fmtNum(setting.limit)}`, stroke: "#8a5300", dash: [6, 4], width: 1.5, scale, points: { show: false } });
    }
    const f = factors.get(code);
    if (point.kind === "water_section" && f && f.water_class_limits) {
      const seen = new Set();
      f.water_class_limits.forEach((b, i) => { const v = parseFloat(b); if (seen.has(v)) return; seen.add(v); bands.push({ scale, v, label: `${["I", "II", "III", "IV", "V"][i]}${t("classBound")}` }); });
    }
  });
  const fmtTick = (u, splits) => splits.map((v) => (v === null ? "" : fmtNum(v)));
  const pad2 = (n) => String(n).padStart(2, "0");
  const timeTicks = (u, splits, ax, space, incr) => {
    let lastDay = null;
    return splits.map((v) => {
      const d = uPlot.tzDate(new Date(v * 1e3), "Asia/Shanghai");
      const day = `${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
      const first = day !== lastDay;
      lastDay = day;
      if (incr >= 86400) return day;
      const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
      return first ? `${hm}\n${day}` : hm;
    });
  };
  const axes = [{ space: 70, values: timeTicks, size: 50 }];
  units.forEach((u, i) => axes.push({ scale: `u${i}`, side: i === 0 ? 3 : 1, label: u, size: 70, values: fmtTick, grid: { show: i === 0 } }));
  const windows = (alarms || []).map((a) => [a.start, a.end || Math.floor(Date.now() / 1000)]);
  // A water section's scale reaches the class bounds on either side of its values.
  const scales = { x: { time: true } };
  units.forEach((u, i) => {
    const own = bands.filter((b) => b.scale === `u${i}`).map((b) => b.v);
    if (!own.length) return;
    scales[`u${i}`] = { range: (_, min, max) => {
      const below = own.filter((v) => v <= min), above = own.filter((v) => v >= max);
      const lo = below.length ? Math.max(...below) : min, hi = above.length ? Math.min(...above) : max;
      const pad = (hi - lo) * 0.05 || 1;
      return [Math.max(0, lo - pad), hi + pad];
    } };
  });
  series[0] = { value: (u, v) => (v === null ? "" : fmtUnix(v)) };
  const opts = {
    width: Math.max(320, el.clientWidth || 900), height: 340, series, axes,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Asia/Shanghai"),
    fmtDate: (tpl) => uPlot.fmtDate(tpl, DATE_NAMES[App.lang]),
    cursor: { drag: { x: true, y: false } },
    scales,
    hooks: { draw: [(u) => {
      const ctx = u.ctx;
      ctx.save();
      // Alarm windows shaded; class bounds as thin labelled lines.
      ctx.fillStyle = "rgba(198,40,40,0.10)";
      for (const [s, e] of windows) {
        const x0 = Math.max(u.bbox.left, u.valToPos(s, "x", true)), x1 = Math.min(u.bbox.left + u.bbox.width, u.valToPos(e, "x", true));
        if (x1 > x0) ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
      }
      ctx.strokeStyle = "rgba(21,101,192,0.45)"; ctx.fillStyle = "#1565c0"; ctx.font = `${11 * devicePixelRatio}px sans-serif`; ctx.setLineDash([2 * devicePixelRatio, 3 * devicePixelRatio]);
      for (const b of bands) {
        const y = u.valToPos(b.v, b.scale, true);
        if (y < u.bbox.top || y > u.bbox.top + u.bbox.height) continue;
        ctx.beginPath(); ctx.moveTo(u.bbox.left, y); ctx.lineTo(u.bbox.left + u.bbox.width, y); ctx.stroke();
        ctx.fillText(b.label, u.bbox.left + 4, y - 3);
      }
      ctx.restore();
    }] },
  };
  App.chart = new uPlot(opts, data, el);
  el.dataset.points = String(xs.length);
  el.dataset.series = String(codes.length);
  el.dataset.windows = String(windows.length);
}

// ---------------------------------------------------------------- alarms, live

/** What an alarm's evidence says, as a sentence: the value against its threshold. */
function alarmAmount(a, factors, point) {
  const e = a.evidence || {};
  const u = a.code ? unitOf(factors, a.code, point) : "";
  const v = (x) => withUnit(x, u);
  if (e.silent_s !== undefined) return t("ev_silent", { silent: fmtDuration(e.silent_s), allowed: fmtDuration(e.allowed_s) });
  if (e.converted !== undefined && e.converted !== null && e.ref_o2) return t("ev_converted", { value: v(e.converted), o2: fmtNum(e.o2), ref: fmtNum(e.ref_o2), limit: v(e.limit) });
  if (e.hourly_mean !== undefined) return t("ev_exceed", { value: v(e.hourly_mean), limit: v(e.limit) });
  if (e.iaqi !== undefined) return t("ev_iaqi", { value: v(e.concentration), iaqi: e.iaqi, threshold: e.threshold });
  if (e.flagged_minutes !== undefined) return t("ev_flags", { minutes: e.flagged_minutes, threshold: e.threshold_minutes });
  if (e.valid_minutes !== undefined && e.required !== undefined) return t("ev_invalid", { valid: e.valid_minutes, required: e.required });
  if (e.target_class !== undefined) return t("ev_class", { value: v(e.value), klass: e.class, target: e.target_class });
  if (e.leq !== undefined) return t("ev_noise", { value: fmtNum(e.leq), limit: fmtNum(e.limit), period: tv("period_", e.period) });
  if (e.other_stations_mean !== undefined && e.other_stations_mean !== null) return t("ev_peers", { value: v(e.value), n: e.other_stations, mean: v(e.other_stations_mean), threshold: v(e.threshold) });
  if (e.baseline_mean_24h !== undefined && e.baseline_mean_24h !== null) return t("ev_sudden", { value: v(e.value), hours: e.baseline_hours, mean: v(e.baseline_mean_24h), threshold: v(e.threshold) });
  if (e.max_band !== undefined) return t("ev_band", { days: e.judged_days, band: v(e.max_band), share: fmtNum(e.max_band / e.range * 100), range: v(e.range), widest: v(Math.max(0, ...(e.days || []).map((d) => d.max - d.min))) });
  if (e.reference_ratio !== undefined) return t("ev_neigh", { recent: (e.recent || []).length, n: (e.neighbours || []).length, now: fmtNum(e.recent_ratio), before: fmtNum(e.reference_ratio), change: fmtNum(e.change * 100), max: fmtNum(e.max_ratio * 100), shift: fmtNum(e.shift_sigmas) });
  if (e.chi2 !== undefined) return t("ev_digits", { n: fmtInt(e.values), chi2: fmtNum(e.chi2), critical: fmtNum(e.critical_chi2), zeros: fmtInt((e.counts || [])[0] || 0), fives: fmtInt((e.counts || [])[5] || 0) });
  if (e.max_temperature !== undefined) return t("ev_fgd", { hours: e.run_hours, max: fmtNum(e.max_temperature), top: fmtNum(Math.max(...(e.temperatures || [0]))), so2: ((e.reported || [])[0]?.values || []).filter((x) => x !== null).map((x) => withUnit(x, unitOf(factors, "a21026", point))).join(", ") || "—" });
  if (e.shift_sigmas !== undefined) return t("ev_step", { recent: e.recent_hours, now: v(e.recent_mean), before: v(e.reference_mean), sd: v(e.reference_sd), shift: fmtNum(e.shift_sigmas), threshold: fmtNum(e.threshold_sigmas), flow: e.flow_change === null ? "—" : `${fmtNum(e.flow_change * 100)}%` });
  if (e.converted_cv !== undefined) return t("ev_dilution", { o2min: fmtNum(e.o2_min), o2max: fmtNum(e.o2_max), r: fmtNum(e.correlation), min: fmtNum(e.min_correlation), cv: fmtNum(e.converted_cv) });
  if (e.gaps_after_high !== undefined) return t("ev_gaps", { n: (e.gaps_after_high || []).length, share: fmtNum(e.high_share * 100), after: fmtNum(e.rate_after_high * 100), rate: fmtNum(e.rate * 100) });
  if (e.share_in_band !== undefined) return t("ev_bunch", { value: v(e.value), limit: v(e.limit), share: fmtNum(e.share_in_band * 100), from: fmtNum(e.band_from * 100), min: fmtNum(e.min_share * 100) });
  if (e.marked_above_limit !== undefined) return t("ev_markx", { value: v(e.value), limit: v(e.limit), flag: tv("flag_", e.flag), n: (e.marked_above_limit || []).length, m: e.running_above_limit });
  if (e.days_showing !== undefined) return t("ev_waterflow", { n: e.days_showing, days: e.days_looked_at });
  if (e.usual_flow !== undefined && e.o2_at_least === undefined) return t("ev_stop", { n: (e.hours || []).length, flow: (e.hours || []).map((x) => withUnit(x[1], u)).join(", "), usual: e.usual_flow === null ? "—" : withUnit(e.usual_flow, u), share: fmtNum(e.min_flow_share * 100) });
  if (e.o2_at_least !== undefined) return t("ev_o2", { n: (e.hours || []).length, o2: fmtNum(e.o2_at_least), max: fmtNum(Math.max(...(e.hours || []).map((x) => x[1]))), share: fmtNum(e.min_flow_share * 100), flow: e.usual_flow === null ? "—" : withUnit(e.usual_flow, unitOf(factors, "a00000", point)) });
  if (e.at_limit_hours !== undefined) return t("ev_dl", { share: fmtNum(e.share * 100), factor: fmtNum(e.factor), dl: v(e.detection_limit), source: e.detection_limit_source === "the point's setting" ? t("point") : e.detection_limit_source, n: fmtInt(e.running_hours), min: fmtNum(e.min_share * 100) });
  if (e.run_hours !== undefined) return t("ev_flat", { value: v(e.value), hours: e.run_hours, threshold: e.threshold_hours });
  if (e.manual_count !== undefined) return t("ev_manual", { n: e.manual_count });
  if (e.count_over !== undefined) return t("ev_rt", { n: e.count_over, m: e.count, limit: v(e.limit) });
  return "";
}
function alarmTitle(a, names) {
  const p = names.points.get(a.point_id);
  return [p ? nameOf(p) : a.point_id, tv("rule_", a.rule_id), a.code ? factorName(names.factors, a.code) : null].filter(Boolean).join(" · ");
}
function chartLink(a) {
  const pad = 3 * 3600;
  const q = new URLSearchParams({ from: new Date((a.start - pad) * 1000).toISOString(), to: new Date(((a.end || a.start) + pad) * 1000).toISOString(), type: a.rule_id === "realtime_exceedance" ? "rtd" : "min" });
  if (a.code) q.set("code", a.code);
  return `#/points/${enc(a.point_id)}?${q}`;
}

let beepCtx = null;
function beep() {
  try {
    beepCtx = beepCtx || new AudioContext();
    const o = beepCtx.createOscillator(), g = beepCtx.createGain();
    o.frequency.value = 880; g.gain.value = 0.08; o.connect(g); g.connect(beepCtx.destination); o.start(); o.stop(beepCtx.currentTime + 0.25);
  } catch { /* no audio */ }
}

async function alarmsPage(view, query) {
  const names = await loadNames();
  const { factors, districts, points } = names;
  const live = h("span", { class: "muted", id: "live" }, t("liveOff"));
  const mk = (name, options, label) => labelled(label, h("select", { "data-filter": name, name }, h("option", { value: "" }, t("all")), options.map(([v, l]) => h("option", { value: v, selected: query.get(name) === v }, l))));
  const rules = ["source_exceedance", "air_high_value", "flags_too_long", "device_silent", "realtime_exceedance", "invalid_hour", "water_target_class", "noise_zone", "sudden_change", "air_above_peers", "manual_entry", "flat_line", "flat_line_water", "stuck_at_detection_limit", "implausible_o2", "stop_mark", "low_variance", "step_change", "dilution", "water_flow", "bunching", "mark_exceedance", "gaps_around_exceedances", "flat_line_air", "low_variance_air", "air_neighbour_divergence", "last_digit", "fgd_temperature"];
  const filters = h("form", { class: "toolbar", id: "alarm-filters", onsubmit: (ev) => { ev.preventDefault(); render(); } },
    mk("rule", rules.map((r) => [r, tv("rule_", r)]), t("rule")),
    mk("severity", ["critical", "warning", "info"].map((s) => [s, tv("sev_", s)]), t("severity")),
    mk("district", [...districts.values()].map((d) => [d.code, districtName(districts, d.code)]), t("district")),
    mk("state", ["raised", "cleared", "withdrawn"].map((s) => [s, tv("s_", s)]), t("state")),
    labelled(t("sound"), h("input", { type: "checkbox", id: "alarm-sound", checked: App.sound, onchange: (ev) => { App.sound = ev.target.checked; localStorage.setItem("huanghe.sound", App.sound ? "on" : "off"); } })),
    live);
  filters.addEventListener("change", (ev) => { if (ev.target.dataset.filter) render(); });
  const pinned = h("div", { id: "alarm-pinned" });
  const list = h("div", { id: "alarm-list" });
  view.append(h("h1", {}, t("alarms")), filters, pinned, list);
  const known = new Set();
  let first = true;
  const inCase = new Set();
  const render = async (flashId) => {
    const params = new URLSearchParams({ limit: "300" });
    for (const sel of filters.querySelectorAll("select[data-filter]")) if (sel.value) params.set(sel.dataset.filter, sel.value);
    if (query.get("point")) params.set("point", query.get("point"));
    const [rows, critical, cases] = await Promise.all([
      get(`/api/v1/alarms?${params}`),
      get("/api/v1/alarms?state=raised&severity=critical&limit=100"),
      App.caps.has("read_cases") ? safe("/api/v1/cases?limit=10000") : null,
    ]);
    inCase.clear();
    for (const c of cases || []) for (const id of c.alarms || []) inCase.add(id);
    const now = Date.now() / 1000;
    const handle = (a, kind) => async (ev) => {
      ev.stopPropagation();
      const fd = await ask(`${t(kind)} · ${alarmTitle(a, names)}`, [labelled(t("reason"), h("textarea", { name: "reason", required: true, rows: 3 }))]);
      if (!fd) return;
      try { await post(`/api/v1/alarms/${a.id}/${kind}`, { reason: fd.get("reason") }); await render(a.id); } catch (e) { flashError(e); }
    };
    const openCase = (a) => async (ev) => {
      ev.stopPropagation();
      try { const c = await post("/api/v1/cases", { title: alarmTitle(a, names), description: alarmAmount(a, factors, points.get(a.point_id)), alarms: [a.id] }); location.hash = `#/cases/${c.id}`; } catch (e) { flashError(e); }
    };
    const rowOf = (a) => {
      const p = points.get(a.point_id);
      const end = a.state === "raised" ? now : a.end;
      return { item: a, class: `sev-row-${a.severity}`, attrs: { "data-alarm": String(a.id) }, cells: [
        h("div", {}, h("a", { href: chartLink(a), "data-chart-link": a.id }, p ? nameOf(p) : a.point_id), h("div", { class: "muted small" }, [p ? enterpriseName(p) : "", p ? districtName(districts, p.district) : ""].filter(Boolean).join(" · "))),
        h("div", {}, h("b", {}, tv("rule_", a.rule_id)), a.code ? h("div", { class: "small" }, factorLabel(factors, a.code, p)) : null),
        h("span", { class: "small" }, alarmAmount(a, factors, p)),
        h("span", { class: `sev sev-${a.severity}` }, tv("sev_", a.severity)),
        h("span", { class: `state-${a.state}` }, tv("s_", a.state)),
        h("div", {}, fmtUnix(a.start), h("div", { class: "muted small" }, fmtDuration(end - a.start))),
        a.handling ? h("span", { class: "small" }, `${tv("h_", a.handling.action)} · ${a.handling.by}: `, entered(a.handling.reason)) : "",
        h("span", { class: "buttons" },
          App.caps.has("handle_alarms") && !a.handling && a.state !== "withdrawn" ? [h("button", { class: "act", type: "button", "data-ack": a.id, onclick: handle(a, "acknowledge") }, t("acknowledge")), " ",
            h("button", { class: "act secondary", type: "button", "data-dismiss": a.id, onclick: handle(a, "dismiss") }, t("dismiss"))] : null,
          App.caps.has("open_cases") ? (inCase.has(a.id) ? h("span", { class: "muted small" }, ` ${t("inCase")}`) : [" ", h("button", { class: "act secondary", type: "button", "data-open-case": a.id, onclick: openCase(a) }, t("openCase"))]) : null),
      ] };
    };
    const headers = [t("where"), t("what"), t("howMuch"), t("severity"), t("state"), t("since"), t("handling"), ""];
    const go = (a) => { location.hash = chartLink(a); };
    pinned.replaceChildren(critical.length ? h("section", { class: "card pinned", "aria-label": t("criticalPinned") }, h("h2", {}, `${t("criticalPinned")} · ${fmtInt(critical.length)}`), table(headers, critical.map(rowOf), go)) : "");
    list.replaceChildren(table(headers, rows.map(rowOf), go), h("p", { class: "muted small" }, t("shown", { n: fmtInt(rows.length) })));
    const fresh = critical.filter((a) => !known.has(a.id));
    for (const a of critical) known.add(a.id);
    if (!first && fresh.length) {
      document.getElementById("announce").textContent = `${t("newCritical")}: ${fresh.map((a) => alarmTitle(a, names)).join("; ")}`;
      if (App.sound) beep();
    }
    first = false;
    if (flashId) view.querySelectorAll(`tr[data-alarm="${flashId}"]`).forEach((tr) => tr.classList.add("flash"));
  };
  await render();
  App.stream = new EventSource("/api/v1/alarms/stream");
  App.stream.onopen = () => { live.textContent = `● ${t("live")}`; live.dataset.live = "true"; };
  let pending = null;
  const onEvent = (ev) => { let id = null; try { id = JSON.parse(ev.data).alarm_id; } catch { /* keep-alive */ } clearTimeout(pending); pending = setTimeout(() => { if (location.hash.startsWith("#/alarms")) render(id); }, 300); };
  for (const kind of ["raised", "updated", "cleared", "reopened", "withdrawn", "acknowledged", "dismissed"]) App.stream.addEventListener(kind, onEvent);
}

// ---------------------------------------------------------------- suspected data fraud

const FORMULA = {
  zh: "每类证据只计一次：强证据（人工录入、稀释）计 1.0，尾数异常为弱信号计 0.25，其他类别（仪器冻结、违规标记、篡改参数、流量与浓度矛盾、压线控制、超标时中断传输、干扰采样、治理设施旁路）计 0.5；点位分值为其各类证据之和，企业分值为其所有点位的证据类别之和；达到 1.0 即为可疑。",
  en: "Each family of evidence counts once: 1.0 for a strong one (manual entry, dilution), 0.25 for the weak last-digit screen, 0.5 for the others (frozen analyser, marking, changed calibration, flow mismatch, steering, withheld data, interference, abatement bypassed); a point's score sums its families, an enterprise's the families of all its points; 1.0 or more is a suspect.",
};

async function fraudPage(view, query) {
  const { districts, points } = await loadNames();
  const toMs = query.get("to") ? Date.parse(query.get("to")) : Date.now();
  const fromIn = h("input", { type: "date", id: "fraud-from", value: localOf(toMs - 30 * 86400e3).slice(0, 10) });
  const toIn = h("input", { type: "date", id: "fraud-to", value: localOf(toMs).slice(0, 10) });
  const district = h("select", { id: "fraud-district" }, h("option", { value: "" }, t("all")), [...districts.values()].map((d) => h("option", { value: d.code }, districtName(districts, d.code))));
  const out = h("div", { id: "fraud-ranking" });
  const load = async () => {
    const q = new URLSearchParams({ from: `${fromIn.value}T00:00:00+08:00`, to: `${toIn.value}T23:59:59+08:00` });
    if (district.value) q.set("district", district.value);
    const r = await get(`/api/v1/fraud/ranking?${q}`);
    const fam = (s) => s.families.map((f) => tv("fam_", f)).join(", ");
    const openCase = (s, enterprise) => async (ev) => {
      ev.stopPropagation();
      const p = points.get(s.points[0]);
      const title = `${t("fraud")} · ${enterprise ? enterpriseByCode(points, s.id) : nameOf(p)} · ${fam(s)}`;
      try { const c = await post("/api/v1/cases", { title, description: `${t("score")} ${fmtNum(s.score)}; ${t("clues")}: ${s.alarms.map((a) => `#${a}`).join(", ")}`, alarms: s.alarms }); location.hash = `#/cases/${c.id}`; } catch (e) { flashError(e); }
    };
    const row = (s, enterprise) => {
      const p = points.get(s.points[0]);
      const name = enterprise ? enterpriseByCode(points, s.id) : nameOf(p) || s.id;
      return { item: { s, enterprise }, class: s.suspect ? "row-bad" : null, attrs: { "data-suspect": s.id }, cells: [
        name, p ? districtName(districts, p.district) : "", h("b", {}, fmtNum(s.score)), fam(s), fmtInt(s.alarms.length),
        fmtTime(s.first), fmtTime(s.last), App.caps.has("open_cases") ? h("button", { class: "act secondary", type: "button", onclick: openCase(s, enterprise) }, t("openCase")) : ""] };
    };
    const headers = [t("title"), t("district"), t("score"), t("families"), t("clues"), t("firstSeen"), t("lastSeen"), ""];
    const go = ({ s }) => { location.hash = `#/alarms?point=${enc(s.points[0])}`; };
    out.replaceChildren(
      card("fraud-enterprises", t("suspectEnterprises"), r.enterprises.length ? table(headers, r.enterprises.map((s) => row(s, true)), go) : h("p", { class: "muted" }, t("none"))),
      card("fraud-points", t("suspectPoints"), r.points.length ? table(headers, r.points.map((s) => row(s, false)), (x) => { location.hash = `#/points/${enc(x.s.points[0])}`; }) : h("p", { class: "muted" }, t("none"))),
      h("p", { class: "muted small" }, `${t("formula")}: ${FORMULA[App.lang]}`));
    out.dataset.ready = "true";
  };
  view.append(h("h1", {}, t("fraud")), h("form", { class: "toolbar", onsubmit: (ev) => { ev.preventDefault(); load(); } },
    labelled(t("from"), fromIn), labelled(t("to"), toIn), labelled(t("district"), district), h("button", { class: "act", type: "submit" }, t("load"))), out);
  await load();
}

// ---------------------------------------------------------------- cases

function caseOverdue(c) { return c.state !== "closed" && (c.escalated || (c.due_ms && c.due_ms < Date.now())); }

async function casesPage(view) {
  const [rows, { districts, points }] = await Promise.all([get("/api/v1/cases?limit=500"), loadNames()]);
  view.append(h("h1", {}, t("cases")));
  if (App.caps.has("read_figures")) {
    const f = await safe("/api/v1/cases/figures");
    if (f) view.append(card("case-figures", t("figures"),
      h("div", { class: "figure" }, f.off_site_share === null || f.off_site_share === undefined ? "—" : `${fmtNum(f.off_site_share * 100)}%`), h("div", { class: "muted" }, t("offSiteShare")),
      h("p", {}, h("a", { href: "/api/v1/inspection-plan?format=csv", id: "inspection-plan" }, t("inspectionPlan")))));
  }
  view.append(table([t("id"), t("title"), t("state"), t("district"), t("enterprise"), t("officer"), t("mode"), t("opened"), t("due")], rows.map((c) => ({ item: c, attrs: { "data-case": String(c.id) }, cells: [
    String(c.id), entered(c.title), tv("s_", c.state), districtName(districts, c.district), c.enterprise ? enterpriseByCode(points, c.enterprise) : "", c.officer || "", c.mode ? tv("m_", c.mode) : "",
    fmtMs(c.opened_ms), c.due_ms ? h("span", { class: caseOverdue(c) ? "bad" : null }, fmtMs(c.due_ms), caseOverdue(c) ? ` · ${t("overdue")}` : "") : ""] })),
    (c) => { location.hash = `#/cases/${c.id}`; }));
}

/** The form of each step: [endpoint, capability, fields]; a field is [name, kind]. */
const STEPS = {
  dispatched: ["dispatch", "dispatch_cases", [["district", "district"], ["officer", "officer"]]],
  off_site_review: ["actions", "handle_cases", [["findings", "textarea"], ["notice", "text"]]],
  inspection: ["actions", "handle_cases", [["inspector", "text"], ["inspected", "datetime"], ["findings", "textarea"]]],
  rectification_requested: ["actions", "handle_cases", [["requirement", "textarea"], ["due", "datetime"]]],
  responded: ["response", "respond_to_cases", [["statement", "textarea"], ["file", "file"]]],
  response_returned: ["actions", "handle_cases", [["reason", "text"]]],
  verified: ["actions", "handle_cases", [["method", "select:data,inspection"], ["detail", "text"]]],
  closed: ["actions", "handle_cases", [["conclusion", "textarea"], ["violation", "checkbox"]]],
  reopened: ["actions", "handle_cases", [["reason", "text"]]],
  commented: ["actions", "handle_cases", [["text", "textarea"]]],
};

function eventSentence(e, districts) {
  const a = e.action;
  const vars = { actor: e.actor, ...a };
  if (a.district) vars.district = districtName(districts, a.district);
  if (a.due_ms) vars.due = fmtMs(a.due_ms);
  if (a.inspected_ms) vars.inspected = fmtMs(a.inspected_ms);
  if (a.method) vars.method = tv("vm_", a.method);
  if (a.stage) vars.stage = tv("s_", a.stage);
  if (a.action === "dispatched") vars.due = a.due_ms ? t("dueAt", { due: fmtMs(a.due_ms) }) : "";
  if (a.action === "closed") vars.violation = a.violation ? t("violationYes") : "";
  return h("span", { "data-entered": "" }, t(`e_${a.action}`, vars));
}

async function casePage(view, id) {
  const [v, { districts, points }] = await Promise.all([get(`/api/v1/cases/${enc(id)}`), loadNames()]);
  const c = v.case;
  const p = c.point_id ? points.get(c.point_id) : null;
  view.append(h("h1", { "data-case-state": c.state }, `${t("cases")} ${c.id} · `, entered(c.title)),
    h("p", { class: v.chain_valid ? "ok" : "error", id: "chain" }, v.chain_valid ? `✔ ${t("chainOk")}` : `✘ ${t("chainBroken")}: ${v.chain_error}`),
    h("section", { class: "card" }, table([t("field"), t("value")], [
      [t("state"), h("b", { id: "case-state", "data-state": c.state }, tv("s_", c.state))], [t("district"), districtName(districts, c.district)],
      [t("enterprise"), c.enterprise ? enterpriseByCode(points, c.enterprise) : ""],
      [t("point"), c.point_id ? h("a", { href: `#/points/${enc(c.point_id)}` }, p ? nameOf(p) : c.point_id) : ""], [t("officer"), c.officer || ""],
      [t("mode"), c.mode ? tv("m_", c.mode) : ""], [t("alarms"), c.alarms.length ? c.alarms.map((a, i) => [i ? ", " : "", h("a", { href: `#/alarms` }, `#${a}`)]) : t("none")],
      [t("due"), c.due_ms ? h("span", { class: caseOverdue(c) ? "bad" : null }, fmtMs(c.due_ms), caseOverdue(c) ? ` · ${t("overdue")}` : "") : ""],
      [t("description"), entered(c.description || "")],
    ].map(([a, b]) => ({ cells: [a, b] }))), h("p", {}, h("a", { href: `/api/v1/cases/${c.id}/evidence`, id: "evidence" }, t("evidence")))));
  const actions = h("section", { class: "card", id: "case-actions", "aria-label": t("actions") }, h("h2", {}, t("actions")));
  for (const name of v.legal_actions) {
    const step = STEPS[name];
    if (!step || !App.caps.has(step[1])) continue;
    actions.append(await stepForm(c, name, step, districts));
  }
  view.append(actions);
  view.append(card("case-events", t("events"),
    h("ol", { class: "events" }, v.events.map((e) => h("li", { "data-action": e.action.action }, h("time", {}, fmtTime(e.at)), " ", h("b", {}, tv("a_", e.action.action)), " — ", eventSentence(e, districts),
      e.action.attachments && e.action.attachments.length ? [" ", e.action.attachments.map((a) => h("a", { href: `/api/v1/cases/${c.id}/attachments/${enc(a.id || a)}` }, `📎 ${a.name || t("file")}`))] : null)))));
}

async function stepForm(c, name, [endpoint, , fields], districts) {
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
    } catch (e) { flashError(e); }
  } }, h("h3", {}, tv("a_", name)));
  for (const [f, kind] of fields) {
    const label = t(`f_${f}`);
    if (kind === "textarea") form.append(labelled(label, h("textarea", { name: f, rows: 3 })));
    else if (kind === "checkbox") form.append(h("label", {}, h("input", { type: "checkbox", name: f }), ` ${label}`));
    else if (kind === "file") form.append(labelled(label, h("input", { type: "file", name: f })));
    else if (kind === "datetime") form.append(labelled(label, h("input", { type: "datetime-local", name: f, value: f === "due" ? localOf(Date.now() + 7 * 86400e3) : bjNow() })));
    else if (kind.startsWith("select:")) form.append(labelled(label, h("select", { name: f }, kind.slice(7).split(",").map((o) => h("option", { value: o }, tv("vm_", o))))));
    else if (kind === "district") {
      form.append(labelled(label, h("select", { name: f, required: true, "data-pick": "district" }, [...districts.values()].map((d) => h("option", { value: d.code, selected: d.code === c.district }, districtName(districts, d.code))))));
    } else if (kind === "officer") {
      const sel = h("select", { name: f, required: true, "data-pick": "officer" });
      const fill = async () => {
        const d = form.querySelector("select[name=district]").value;
        const officers = (await safe(`/api/v1/officers?district=${enc(d)}`)) || [];
        officers.sort((a, b) => (a.role === "district_officer" ? 0 : 1) - (b.role === "district_officer" ? 0 : 1));
        sel.replaceChildren(...officers.map((o) => h("option", { value: o.username }, `${o.display_name} (${tv("role_", o.role)}${o.district ? ` · ${districtName(districts, o.district)}` : ""})`)));
      };
      form.append(labelled(label, sel));
      form.querySelector("select[name=district]").addEventListener("change", fill);
      await fill();
    } else form.append(labelled(label, h("input", { name: f })));
  }
  form.append(h("button", { class: "act", type: "submit" }, t("submit")));
  return form;
}

// ---------------------------------------------------------------- registries, targets, devices

async function registriesPage(view) {
  const regs = await get("/api/v1/registries");
  view.append(h("h1", {}, t("registries")), table([t("title"), t("total")], regs.map((r) => ({ item: r, cells: [App.lang === "zh" ? r.title_zh : r.title, fmtInt(r.count)] })), (r) => { location.hash = `#/registries/${r.name}`; }));
}

/** An enumerated value in the user's language (`lixia` → 历下区 / Lixia District). */
function enumLabel(field, v) {
  const i = field.type === "enum" ? (field.values || []).indexOf(v) : -1;
  if (i >= 0) {
    const names = App.lang === "zh" ? field.values_zh : field.values_en;
    if (names && names[i]) return names[i];
    return App.lang === "zh" ? v : humanize(v);
  }
  return fmtCell(v);
}
function fmtCell(v) {
  if (v === undefined || v === null) return "";
  if (typeof v === "boolean") return v ? t("yes") : t("no");
  if (typeof v === "number") return fmtNum(v);
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === "number")) return `${v[0].toFixed(4)}, ${v[1].toFixed(4)}`;
  if (typeof v === "object") return v.type ? `GeoJSON ${v.type}` : Object.entries(v).map(([k, x]) => `${k} ${fmtCell(x)}`).join(" · ");
  return entered(String(v));
}
function fieldLabel(f) { return App.lang === "zh" ? f.label_zh : f.label; }

async function registryPage(view, name) {
  const schema = await get(`/api/v1/registries/${enc(name)}`);
  // Secret fields (a device password) are never sent: no column for them.
  const shown = schema.fields.filter((f) => !f.secret && f.type !== "geometry" && f.name !== "name_en");
  const columns = shown.filter((f) => f.type !== "point").slice(0, 7);
  const q = h("input", { id: "registry-q", type: "search", "aria-label": t("search") });
  const enumFilters = schema.fields.filter((f) => f.type === "enum").slice(0, 4).map((f) =>
    labelled(fieldLabel(f), h("select", { "data-filter": f.name }, h("option", { value: "" }, t("all")), (f.values || []).map((v) => h("option", { value: v }, enumLabel(f, v))))));
  const out = h("div", { id: "registry-entries" });
  const hist = h("aside", { id: "registry-history", class: "card", "aria-live": "polite" }, h("p", { class: "muted" }, t("history")));
  let page = 0, pages = 1;
  const cellOf = (f, v) => (f.name === "name" ? null : enumLabel(f, v));
  const load = async () => {
    const params = new URLSearchParams({ page: String(page), per_page: "50" });
    if (q.value) params.set("q", q.value);
    for (const sel of view.querySelectorAll("select[data-filter]")) if (sel.value) params.set(sel.dataset.filter, sel.value);
    const r = await get(`/api/v1/registries/${enc(name)}/entries?${params}`);
    pages = Math.max(1, Math.ceil(r.total / 50));
    out.replaceChildren(h("p", { class: "muted" }, `${t("total")} ${fmtInt(r.total)} · ${t("page", { n: page + 1, m: pages })}`),
      table(columns.map(fieldLabel), r.entries.map((e) => ({ item: e, attrs: { "data-entry": e.id }, cells: columns.map((f) => cellOf(f, e.data[f.name]) ?? entered((App.lang === "en" && e.data.name_en) || e.data.name || "")) })), showHistory));
  };
  const showHistory = async (e) => {
    const changes = await get(`/api/v1/registries/${enc(name)}/entries/${enc(e.id)}/history`);
    const title = (App.lang === "en" && e.data.name_en) || e.data.name || e.id;
    hist.replaceChildren(h("h2", {}, `${t("history")}: `, entered(title)), ...changes.slice().reverse().map((c) => {
      const before = c.before || {}, after = c.after || {};
      const keys = shown.map((f) => f.name).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
      const byName = new Map(schema.fields.map((f) => [f.name, f]));
      return h("div", { class: "change", "data-version": c.version }, h("p", {}, h("b", {}, `${t("version")} ${c.version}`), ` · ${fmtTime(c.at)} · ${c.actor}`, !c.before ? ` · ${t("created")}` : !c.after ? ` · ${t("deleted")}` : ""),
        keys.length ? table([t("field"), t("before"), t("after")], keys.map((k) => ({ cells: [fieldLabel(byName.get(k)), enumLabel(byName.get(k), before[k]), enumLabel(byName.get(k), after[k])] }))) : null);
    }));
    hist.scrollIntoView({ block: "nearest" });
  };
  const file = h("input", { type: "file", id: "registry-import", accept: ".csv,.xlsx", "aria-label": t("import") });
  const importResult = h("p", { id: "import-result", role: "status" });
  view.append(h("h1", {}, App.lang === "zh" ? schema.title_zh : schema.title),
    h("form", { class: "toolbar", onsubmit: (ev) => { ev.preventDefault(); page = 0; load(); } }, labelled(t("search"), q), enumFilters, h("button", { class: "act", type: "submit" }, t("search")),
      h("button", { class: "act secondary", type: "button", onclick: () => { page = Math.max(0, page - 1); load(); } }, t("prev")),
      h("button", { class: "act secondary", type: "button", onclick: () => { page = Math.min(pages - 1, page + 1); load(); } }, t("next")),
      h("a", { href: `/api/v1/registries/${enc(name)}/export?format=xlsx&lang=${App.lang}` }, `${t("export")} XLSX`),
      h("a", { href: `/api/v1/registries/${enc(name)}/export?format=csv&lang=${App.lang}` }, `${t("export")} CSV`),
      App.caps.has("write_registries") ? [file, h("button", { class: "act secondary", type: "button", onclick: async () => {
        const f = file.files[0];
        if (!f) return;
        try { const r = await api("POST", `/api/v1/registries/${enc(name)}/import`, f, f.type || "application/octet-stream"); importResult.textContent = `${t("import")}: ${fmtInt(r.applied ?? r.created ?? 0)}`; load(); }
        catch (e) { importResult.textContent = e.message; }
      } }, t("import"))] : null),
    importResult, h("div", { class: "split" }, out, hist));
  view.querySelectorAll("select[data-filter]").forEach((s) => s.addEventListener("change", () => { page = 0; load(); }));
  await load();
}

async function targetsPage(view) {
  const targets = await get("/api/v1/targets");
  const cards = targets.map((x) => {
    const el = h("div", { class: "spark" });
    view.addEventListener("attached", () => {
      if (typeof uPlot === "undefined" || !x.series || x.series.length < 1) return;
      const xs = x.series.map((p) => Date.parse(`${p.date}T00:00:00+08:00`) / 1000);
      new uPlot({ width: Math.min(420, el.clientWidth || 320), height: 120, legend: { show: false }, series: [{}, { stroke: "#0d4f6c", points: { show: true } }, { stroke: "#8a5300", dash: [4, 4] }],
        axes: [{}, { values: (u, s) => s.map((v) => fmtTarget(v, x)), size: 60 }],
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Asia/Shanghai") }, [xs, x.series.map((p) => p.value), xs.map(() => x.goal)], el);
    }, { once: true });
    return h("section", { class: "card", "data-target": x.id, "aria-label": targetTitle(x) }, h("h2", {}, targetTitle(x)),
      table([t("value"), t("goal"), t("forecast"), t("onTrack"), t("deadline")], [{ cells: [fmtTarget(x.value, x), fmtTarget(x.goal, x), fmtTarget(x.forecast, x),
        x.on_track === null || x.on_track === undefined ? "—" : x.on_track ? h("span", { class: "good" }, t("yes")) : h("span", { class: "bad" }, t("no")), x.deadline] }]),
      x.note ? h("p", { class: "muted" }, x.note) : null, el);
  });
  view.append(h("h1", {}, t("targets")), h("div", { class: "two" }, cards));
}

async function devicesPage(view, mn, query) {
  const [devices, { points }] = await Promise.all([get("/api/v1/devices"), loadNames()]);
  const byMn = new Map([...points.values()].map((p) => [p.mn, p]));
  const q = h("input", { id: "device-q", type: "search", value: query.get("q") || "" });
  const offline = h("input", { id: "device-offline", type: "checkbox", checked: query.get("offline") === "1" });
  const out = h("div", { id: "device-list" });
  let page = 0;
  const render = () => {
    const needle = q.value.trim().toLowerCase();
    const rows = devices.filter((d) => (!offline.checked || !d.online) && (!needle || d.mn.toLowerCase().includes(needle) || nameOf(byMn.get(d.mn)).toLowerCase().includes(needle)));
    const pages = Math.max(1, Math.ceil(rows.length / 50));
    page = Math.min(page, pages - 1);
    out.replaceChildren(h("p", { class: "muted" }, `${t("total")} ${fmtInt(rows.length)} · ${t("page", { n: page + 1, m: pages })}`),
      table([t("point"), "MN", t("state"), t("peer"), t("lastPacket"), t("packets")], rows.slice(page * 50, page * 50 + 50).map((d) => ({ item: d, attrs: { "data-mn": d.mn }, cells: [
        nameOf(byMn.get(d.mn)) || "—", d.mn, d.online ? h("span", { class: "good" }, `● ${t("online")}`) : h("span", { class: "muted" }, `○ ${t("offline")}`), d.peer, fmtTime(d.last_packet || ""), fmtInt(d.packets)] })),
      (d) => { location.hash = `#/devices/${enc(d.mn)}`; }),
      h("p", { class: "toolbar" }, h("button", { class: "act secondary", type: "button", id: "device-prev", onclick: () => { page = Math.max(0, page - 1); render(); } }, t("prev")),
        h("button", { class: "act secondary", type: "button", id: "device-next", onclick: () => { page += 1; render(); } }, t("next"))));
  };
  view.append(h("h1", {}, t("devices")), h("div", { class: "toolbar" }, labelled(t("search"), q), h("label", {}, offline, ` ${t("offlineOnly")}`)), out);
  q.addEventListener("input", () => { page = 0; render(); });
  offline.addEventListener("change", () => { page = 0; render(); });
  render();
  if (mn) {
    const packets = await get(`/api/v1/packets?mn=${enc(mn)}&limit=100`);
    const p = byMn.get(mn);
    view.append(card("packets-of", `${t("packets")} · ${p ? nameOf(p) : mn}`, table([t("received"), "CN", t("crc"), t("disposition"), t("rawFrame")],
      packets.map((x) => ({ cells: [fmtTime(x.received), x.cn || "", x.crc_given && x.crc_computed && x.crc_given.toUpperCase() === x.crc_computed.toUpperCase() ? `${x.crc_variant || ""} ✔` : `✘ ${x.crc_given || ""}/${x.crc_computed || ""}`, x.reason ? [humanize(x.status), ": ", entered(x.reason)] : humanize(x.status), h("code", { class: "raw" }, x.raw)] })))));
    const el = document.getElementById("packets-of");
    if (el) el.scrollIntoView();
  }
}

// ---------------------------------------------------------------- admin: users and the audit log

const ROLES = ["admin", "duty_officer", "district_officer", "analyst", "registry_clerk", "device_operator", "enterprise"];

function auditSentence(a) {
  const path = a.path.replace(/^\/api\/v1\//, "");
  const [thing, id, sub] = path.split("/");
  const verb = thing === "auth" ? (id === "login" ? t("au_login") : id === "logout" ? t("au_logout") : t("au_action")) : a.method === "POST" && !sub ? t("au_create") : a.method === "PUT" ? t("au_update") : a.method === "DELETE" ? t("au_delete") : t("au_action");
  const what = thing === "auth" ? "" : [tv("au_t_", thing), id ? decodeURIComponent(id) : "", sub ? tv("au_s_", sub) : ""].filter(Boolean).join(" ");
  return `${a.actor.replace(/^-/, "")} ${verb}${what ? ` ${what}` : ""}`;
}
function auditChanges(a) {
  const b = a.before && typeof a.before === "object" ? a.before : {}, x = a.after && typeof a.after === "object" ? a.after : {};
  const keys = [...new Set([...Object.keys(b), ...Object.keys(x)])].filter((k) => JSON.stringify(b[k]) !== JSON.stringify(x[k]) && k !== "capabilities" && k !== "token").slice(0, 8);
  if (!keys.length) return "";
  const show = (v) => (v === undefined || v === null ? "—" : typeof v === "object" ? h("code", { class: "raw" }, JSON.stringify(v).slice(0, 120)) : entered(String(v)));
  return h("table", { class: "mini" }, keys.map((k) => h("tr", {}, h("th", {}, I18N.zh[k] ? t(k) : h("code", {}, k)), h("td", {}, show(b[k])), h("td", {}, "→"), h("td", {}, show(x[k])))));
}

async function adminPage(view) {
  const [users, audit, { districts }, enterprises] = await Promise.all([get("/api/v1/users"), get("/api/v1/audit?limit=200"), loadNames(),
    safe("/api/v1/registries/enterprises/entries?per_page=1000")]);
  const entList = ((enterprises && enterprises.entries) || []).map((e) => [e.data.credit_code || e.id, (App.lang === "en" && e.data.name_en) || e.data.name || e.id]).sort((a, b) => a[1].localeCompare(b[1]));
  const roleSel = h("select", { name: "role" }, ROLES.map((r) => h("option", { value: r }, tv("role_", r))));
  const districtSel = h("select", { name: "district" }, h("option", { value: "" }, t("none")), [...districts.values()].map((d) => h("option", { value: d.code }, districtName(districts, d.code))));
  const entSel = h("select", { name: "enterprise" }, h("option", { value: "" }, t("none")), entList.map(([code, n]) => h("option", { value: code }, n)));
  const sync = () => { districtSel.closest("label").hidden = roleSel.value !== "district_officer"; entSel.closest("label").hidden = roleSel.value !== "enterprise"; };
  const form = h("form", { class: "card step", id: "new-user", onsubmit: async (ev) => {
    ev.preventDefault();
    const fd = new FormData(ev.target);
    const body = { username: fd.get("username"), role: fd.get("role"), password: fd.get("password"), display_name: fd.get("display_name") || undefined };
    if (body.role === "district_officer" && fd.get("district")) body.district = fd.get("district");
    if (body.role === "enterprise" && fd.get("enterprise")) body.enterprise = fd.get("enterprise");
    try { await post("/api/v1/users", body); await route(); } catch (e) { flashError(e); }
  } }, h("h2", {}, `${t("create")} · ${t("users")}`),
    labelled(t("username"), h("input", { name: "username", required: true })),
    labelled(t("displayName"), h("input", { name: "display_name" })),
    labelled(t("role"), roleSel), labelled(t("district"), districtSel), labelled(t("enterprise"), entSel),
    labelled(t("password"), h("input", { name: "password", type: "password", required: true, autocomplete: "new-password" })),
    h("button", { class: "act", type: "submit" }, t("create")));
  roleSel.addEventListener("change", sync);
  const entName = (code) => { const e = entList.find(([c]) => c === code); return e ? e[1] : code || ""; };
  const toggle = (u) => async () => {
    try { await api("PUT", `/api/v1/users/${enc(u.username)}`, { disabled: !u.disabled }); await route(); } catch (e) { flashError(e); }
  };
  view.append(h("h1", {}, t("admin")), h("h2", {}, t("users")),
    table([t("username"), t("displayName"), t("role"), t("district"), t("enterprise"), t("disabled"), ""], users.map((u) => ({ cells: [
      entered(u.username), entered(u.display_name), tv("role_", u.role), districtName(districts, u.district), entName(u.enterprise), u.disabled ? t("yes") : t("no"),
      u.username === App.me.username ? "" : h("button", { class: "act secondary", type: "button", onclick: toggle(u) }, u.disabled ? t("enable") : t("disable"))] }))),
    form,
    h("h2", {}, t("audit")),
    h("div", { id: "audit-log" }, table([t("time"), t("action"), t("status"), t("changedFields")], audit.map((a) => ({ cells: [
      fmtTime(a.at), auditSentence(a), h("span", { class: a.status >= 400 ? "bad" : null }, String(a.status)), auditChanges(a)] })))));
  sync();
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
document.getElementById("menu").addEventListener("click", (ev) => {
  const open = document.body.classList.toggle("nav-open");
  ev.currentTarget.setAttribute("aria-expanded", String(open));
});
window.addEventListener("hashchange", () => { document.body.classList.remove("nav-open"); route(); });
applyI18n();
start();
