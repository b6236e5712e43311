// 审方工作台: the pharmacists' and upper-level doctors' queues, decisions, and rule-pack re-runs.
const STATUS = {issued: "待规则审核", passed: "规则通过·待批准", flagged: "需人工审核", approved: "已批准",
  rejected: "已驳回", cancelled: "医师已撤销", expired: "已过期"};
const SEV = {block: "禁止", pharmacist: "需药师", info: "提示"};
const OUTCOME = {passed: "通过", flagged: "需药师审核", upper: "需上级医师审核"};
const TITLE = {pharmacist: "待药师审核处方（先到先审）", upper: "待上级医师审核处方（超出村卫生室用药目录）"};
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
const time = (t) => t ? new Date(t).toLocaleString("zh-CN", {hour12: false}) : "";
let level = "pharmacist";
$("token").value = localStorage.getItem("rxflow.review.token") || "";
$("save").onclick = () => { localStorage.setItem("rxflow.review.token", $("token").value.trim()); loadQueue(); };
$("reload").onclick = () => level === "rerun" ? rerun() : loadQueue();
$("run").onclick = () => rerun();
document.querySelectorAll("nav button").forEach((b) => b.onclick = () => tab(b.dataset.tab));

function say(text, ok) { $("msg").className = ok ? "ok" : "err"; $("msg").textContent = text; }

function tab(name) {
  level = name;
  document.querySelectorAll("nav button").forEach((b) => b.classList.toggle("on", b.dataset.tab === name));
  $("review").hidden = name === "rerun"; $("rerun").hidden = name !== "rerun";
  if (name !== "rerun") { $("queue-title").textContent = TITLE[name]; $("detail").innerHTML = "<p>请选择左侧处方。</p>"; loadQueue(); }
}

async function api(path, body) {
  const init = {headers: {"Authorization": "Bearer " + localStorage.getItem("rxflow.review.token")}};
  if (body) { init.method = "POST"; init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
  const resp = await fetch(path, init);
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const d = data.detail;
    const text = Array.isArray(d) ? d.map((e) => e.loc.join(".") + "：" + e.msg).join("；")
      : (d && d.message) || resp.statusText;
    const missing = d && d.missing ? "（需说明理由的规则：" + d.missing.join("、") + "）" : "";
    const upper = d && d.reason === "needs_upper_review" ? "（此处方须由上级医师批准）" : "";
    throw new Error(resp.status + " " + text + missing + upper);
  }
  return data;
}

async function loadQueue() {
  try {
    const rows = await api("/api/queue?level=" + level);
    $("queue").innerHTML = rows.map((r) => `<tr class="row" data-id="${esc(r.prescription_id)}">
      <td>${esc(time(r.issued_at))}</td><td>${esc(r.doctor_id)}<br><small>${esc(r.clinic_id)}</small></td>
      <td>${esc(r.drugs.map((d) => d.drug_name).join("、"))}</td><td>${esc(STATUS[r.status] || r.status)}
      <br><small>${r.findings.length} 条提示</small></td></tr>`).join("") || "<tr><td colspan=4>暂无待审处方</td></tr>";
    document.querySelectorAll("tr.row").forEach((tr) => tr.onclick = () => show(tr.dataset.id));
  } catch (e) { say("读取队列失败：" + e.message); }
}

async function show(id) {
  let p;
  try { p = await api("/api/prescriptions/" + id); } catch (e) { return say("读取处方失败：" + e.message); }
  const rx = p.issued, open = p.status === "passed" || p.status === "flagged";
  const expired = new Date(rx.valid_until) <= new Date();
  $("detail").innerHTML = `<h2>处方 ${esc(p.prescription_id)}</h2>
    ${p.needs_upper_review && open ? '<p class="upper">超出村卫生室用药目录：须由上级医师审核批准，药师可驳回。</p>' : ""}
    <p>状态：<b>${esc(STATUS[p.status] || p.status)}</b>　规则包：${esc(p.rule_pack_version)}　处方集：${esc(p.formulary_version || "")}
    　医师：${esc(rx.doctor_id)}（${esc(rx.clinic_id)}）<br>
    患者：${rx.patient.sex === "F" ? "女" : "男"}，${esc(rx.patient.age_years)}岁${rx.patient.weight_kg ? "，" + esc(rx.patient.weight_kg) + "kg" : ""}${rx.patient.pregnant ? "，妊娠" : ""}　过敏：${esc(rx.patient.allergies.join("、") || "无")}<br>
    诊断：${esc(rx.diagnoses.map((d) => d.code + " " + d.name).join("；"))}<br>
    有效期至：${esc(time(rx.valid_until))}${expired ? ' <b class="err">已过期</b>' : ""}</p>
    <h3>药品</h3><table><tr><th>#</th><th>药品</th><th>用法用量</th><th>天数</th><th>数量</th></tr>
    ${rx.items.map((i, n) => `<tr><td>${n + 1}</td><td>${esc(i.drug_name)}<br><small>${esc(i.drug_code)}</small></td>
      <td>${esc(i.dose + i.dose_unit + " " + i.frequency + " " + i.route)}</td><td>${esc(i.days)}</td>
      <td>${esc(i.quantity + i.quantity_unit)}</td></tr>`).join("")}</table>
    <h3>审方发现</h3><table><tr><th>级别</th><th>规则</th><th>说明</th><th>依据</th></tr>
    ${p.findings.map((f) => `<tr><td><span class="sev ${esc(f.severity)}">${esc(SEV[f.severity])}</span></td>
      <td>${esc(f.rule_id)}</td><td>${esc(f.message_zh)}${itemOf(f)}</td><td>${esc(f.clause)}</td></tr>`).join("") || "<tr><td colspan=4>无</td></tr>"}</table>
    ${open ? decisionForm(p) : `<p>审核人：${esc(p.reviewer_id || "")}　${esc(p.last_reason || "")}</p>`}
    <h3>经过</h3><ol>${p.history.map((h) => `<li>${esc(time(h.at))} ${esc(h.type)} · ${esc(h.actor)}</li>`).join("")}</ol>`;
  if (open) { $("approve").onclick = () => decide(p, "approve"); $("reject").onclick = () => decide(p, "reject"); }
}

function itemOf(f) {  // newer packs name the item in the message; older ones only by index
  const n = f.item_index != null ? "第" + (f.item_index + 1) + "项" : "";
  return n && !f.message_zh.includes(n) ? "（" + n + "）" : "";
}

function decisionForm(p) {
  const rules = [...new Set(p.findings.map((f) => f.rule_id))];
  return `<h3>审核决定</h3>
    ${p.needs_override.map((r) => `<label>对 ${esc(r)} 放行的理由<textarea class="ovr" data-rule="${esc(r)}" rows="2"></textarea></label>`).join("")}
    <label>备注 <input id="note" class="wide" maxlength="500"></label>
    <p><button id="approve">批准（签名）</button></p>
    <label>驳回理由 <input id="reason" class="wide" maxlength="500"></label>
    ${rules.map((r) => `<label class="chk"><input type="checkbox" class="rid" value="${esc(r)}"> ${esc(r)}</label> `).join("")}
    <p><button id="reject">驳回（签名）</button></p>`;
}

async function decide(p, action) {
  const base = "/api/prescriptions/" + p.prescription_id + "/" + action;
  const body = action === "approve"
    ? {note: $("note").value.trim() || null, overrides: [...document.querySelectorAll(".ovr")]
        .filter((t) => t.value.trim()).map((t) => ({rule_id: t.dataset.rule, reason: t.value.trim()}))}
    : {reason: $("reason").value.trim(), rule_ids: [...document.querySelectorAll(".rid:checked")].map((c) => c.value)};
  try {
    const r = await api(base, body);
    say((action === "approve" ? "已批准" : "已驳回") + "：" + r.prescription_id, true);
    await show(p.prescription_id); await loadQueue();
  } catch (e) { say((action === "approve" ? "批准失败：" : "驳回失败：") + e.message); }
}

async function rerun() {
  const pack = $("pack").value.trim();
  let r;
  try { r = await api("/api/rerun" + (pack ? "?pack=" + encodeURIComponent(pack) : "")); }
  catch (e) { return say("重跑失败：" + e.message); }
  say("", true);
  const ids = (xs) => esc(xs.join("、") || "—");
  $("report").innerHTML = `<h3>历史复核</h3><p>已审处方 ${r.reviewed} 张，按原规则包重跑结论完全一致 ${r.reproduced} 张，
    <b class="${r.mismatches.length ? "err" : "ok"}">不一致 ${r.mismatches.length} 张</b>。</p>
    ${r.mismatches.length ? `<table><tr><th>处方</th><th>规则包</th><th>处方集</th><th>问题</th></tr>
      ${r.mismatches.map((m) => `<tr><td>${esc(m.prescription_id)}</td><td>${esc(m.rule_pack_version)}</td>
      <td>${esc(m.formulary_version)}</td><td>${esc(m.problem)}</td></tr>`).join("")}</table>` : ""}
    <h3>试运行规则包 ${esc(r.pack)}</h3><p>结论或提示会变化的处方 ${r.changed} 张。</p>
    <table><tr><th>处方</th><th>原规则包</th><th>原结论</th><th>新结论</th><th>新增规则</th><th>不再提示</th></tr>
    ${r.changes.map((c) => `<tr><td>${esc(c.prescription_id)}</td><td>${esc(c.recorded_pack)}</td>
      <td>${esc(OUTCOME[c.from])}</td><td>${c.verdict_changed ? "<b>" + esc(OUTCOME[c.to]) + "</b>" : esc(OUTCOME[c.to])}</td>
      <td>${ids(c.added)}</td><td>${ids(c.removed)}</td></tr>`).join("") || "<tr><td colspan=6>无变化</td></tr>"}</table>`;
}

loadQueue();
