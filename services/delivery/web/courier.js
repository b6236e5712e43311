// The courier's page: lists jobs and calls the delivery API with the pasted bearer token.
// Everything shown is set with textContent, never innerHTML, so no field can inject markup.
"use strict";

const TOKEN_KEY = "rxflow.delivery.token";
const STATUS = {
  delivery_requested: "待接单", assigned: "已接单", picked_up: "已取货",
  delivered: "已送达", delivery_failed: "配送失败", returned: "已退回药房",
};
const REASONS = {
  unauthenticated: "请先填写访问令牌", forbidden: "令牌无效，或该账号不是骑手",
  not_found: "订单不存在", not_accepted: "请先接单", not_your_job: "该订单已由其他骑手接单",
  not_picked_up: "请先确认取货", not_failed: "只有配送失败的订单才能退回药房",
  wrong_code: "取药码不正确，请向患者核对",
  too_many_wrong_codes: "取药码连续输错次数过多，请15分钟后再试，或联系患者核对", conflict: "订单刚被修改，请刷新后重试",
};
const $ = (id) => document.getElementById(id);

function say(text, ok) {
  $("message").textContent = text;
  $("message").className = ok ? "ok" : "error";
}

function explain(status, body) {
  const d = body && body.detail;
  if (Array.isArray(d)) return "输入有误：" + d.map((e) => e.loc[e.loc.length - 1]).join("、");
  const reason = d && d.reason;
  if (reason && REASONS[reason]) return REASONS[reason];
  if (reason && reason.startsWith("already_")) return "订单已是“" + (STATUS[reason.slice(8)] || reason) + "”状态";
  return "操作失败（" + status + "）";
}

async function api(method, path, body) {
  const headers = { Authorization: "Bearer " + (localStorage.getItem(TOKEN_KEY) || "") };
  if (body) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const data = await resp.json().catch(() => null);
  if (!resp.ok) throw new Error(explain(resp.status, data));
  return data;
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text == null ? "" : text;
  row.appendChild(td);
  return td;
}

function button(td, label, onClick, cls) {
  const b = document.createElement("button");
  b.textContent = label;
  if (cls) b.className = cls;
  b.addEventListener("click", onClick);
  td.appendChild(b);
}

const when = (iso) => (iso ? new Date(iso).toLocaleString("zh-CN", { hour12: false }) : "");
const short = (id) => id.slice(0, 8);

async function act(job, action, body, done) {
  try {
    await api("POST", "/api/jobs/" + job.prescription_id + "/" + action, body);
    say(done + "（处方 " + short(job.prescription_id) + "）", true);
    if (action !== "accept" && action !== "pickup") hideContact();
  } catch (e) { say(e.message); }
  await load();
}

function deliver(job) {
  const code = prompt("请输入患者出示的取药码（8位）");
  if (code) act(job, "deliver", { pickup_code: code }, "已送达");
}

function fail(job) {
  const reason = prompt("请填写配送失败原因");
  if (reason && reason.trim()) act(job, "fail", { reason: reason.trim() }, "已记录配送失败");
}

async function showContact(job) {
  try {
    const data = await api("GET", "/api/jobs/" + job.prescription_id);
    const c = data.contact || {};
    $("contact-rx").textContent = short(job.prescription_id);
    $("contact-name").textContent = c.name || "（无）";
    $("contact-phone").textContent = c.phone || "（无）";
    $("contact-phone").href = c.phone ? "tel:" + c.phone : "#";
    $("contact-address").textContent = c.address || "（无）";
    $("contact").hidden = false;
  } catch (e) { say(e.message); }
}

function hideContact() {
  $("contact").hidden = true;
  for (const id of ["contact-rx", "contact-name", "contact-phone", "contact-address"]) $(id).textContent = "";
}

function renderMine(job) {
  const tr = document.createElement("tr");
  cell(tr, short(job.prescription_id));
  cell(tr, STATUS[job.status] || job.status);
  cell(tr, job.pharmacy_id);
  cell(tr, when(job.updated_at));
  cell(tr, job.last_reason);
  const td = cell(tr, "");
  if (job.status === "assigned" || job.status === "picked_up") button(td, "收件人", () => showContact(job));
  if (job.status === "assigned") button(td, "已取货", () => act(job, "pickup", null, "已确认取货"), "primary");
  if (job.status === "picked_up") button(td, "送达", () => deliver(job), "primary");
  if (job.status !== "delivery_failed") button(td, "配送失败", () => fail(job), "danger");
  else button(td, "已退回药房", () => act(job, "return", null, "已退回药房"), "primary");
  return tr;
}

function renderOpen(job) {
  const tr = document.createElement("tr");
  cell(tr, short(job.prescription_id));
  cell(tr, job.pharmacy_id);
  cell(tr, when(job.requested_at));
  button(cell(tr, ""), "接单", () => act(job, "accept", null, "接单成功"), "primary");
  return tr;
}

async function load() {
  if (!localStorage.getItem(TOKEN_KEY)) { say("请先填写访问令牌"); return; }
  try {
    const jobs = await api("GET", "/api/jobs");
    $("mine").replaceChildren(...jobs.filter((j) => j.status !== "delivery_requested").map(renderMine));
    $("open").replaceChildren(...jobs.filter((j) => j.status === "delivery_requested").map(renderOpen));
  } catch (e) { say(e.message); }
}

$("save-token").addEventListener("click", () => {
  const t = $("token").value.trim();
  if (t) { localStorage.setItem(TOKEN_KEY, t); $("token").value = ""; say("令牌已保存", true); load(); }
});
$("clear-token").addEventListener("click", () => {
  localStorage.removeItem(TOKEN_KEY); hideContact();
  $("mine").replaceChildren(); $("open").replaceChildren(); say("令牌已清除", true);
});
$("refresh").addEventListener("click", load);
$("contact-close").addEventListener("click", hideContact);
load();
setInterval(load, 30000);
