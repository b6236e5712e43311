// The doctor's page: issue a signed e-prescription, follow and cancel one's own.
const STATUS = {issued: "已开具", passed: "审核通过", flagged: "待药师审核", approved: "可取药", rejected: "已驳回",
  cancelled: "已撤销", expired: "已过期", claimed: "药房备药中", dispensed: "已发药", delivery_requested: "待配送",
  assigned: "骑手已接单", picked_up: "配送中", delivered: "已送达", delivery_failed: "配送失败", returned: "已退回药房"};
const CHANNEL = {hospital: "医院药房", retail: "定点药店", any_designated: "任一定点药店", home_delivery: "送药上门"};
const FREQ = ["qd", "bid", "tid", "qid", "qn", "q8h", "q12h", "prn", "st"];
const $ = (id) => document.getElementById(id);
const TOKEN = "rxflow.prescriber.token";

function say(text, ok) { $("msg").className = ok ? "ok" : "err"; $("msg").textContent = text; }

async function api(path, body) {
  const init = {headers: {"Authorization": "Bearer " + (localStorage.getItem(TOKEN) || "")}};
  if (body) { init.method = "POST"; init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
  const resp = await fetch(path, init);
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const d = data.detail;
    const text = Array.isArray(d) ? d.map((e) => e.loc.slice(1).join(".") + "：" + e.msg).join("；")
      : (d && d.message) || resp.statusText;
    throw new Error(resp.status + " " + text);
  }
  return data;
}

function addItem() {
  const div = document.createElement("div");
  div.className = "item";
  const field = (name, attrs, label) => {
    const l = document.createElement("label"); l.textContent = label + " ";
    const i = document.createElement(attrs.tag || "input"); i.name = name;
    Object.entries(attrs).forEach(([k, v]) => { if (k !== "tag") i.setAttribute(k, v); });
    if (name === "frequency") FREQ.forEach((f) => { const o = document.createElement("option"); o.textContent = f; i.append(o); });
    l.append(i); div.append(l); return i;
  };
  field("drug_code", {required: "", size: 18, placeholder: "C08CA01-TAB-5MG"}, "编码");
  field("drug_name", {required: "", size: 10, placeholder: "氨氯地平片"}, "名称");
  field("dose", {required: "", size: 4, value: "5"}, "单次剂量");
  field("dose_unit", {required: "", size: 3, value: "mg"}, "单位");
  field("frequency", {tag: "select"}, "频次");
  field("days", {type: "number", min: 1, max: 84, value: 7, style: "width:4em"}, "天数");
  field("quantity", {required: "", size: 3, value: "1"}, "数量");
  field("quantity_unit", {required: "", size: 3, value: "盒"}, "");
  $("items").append(div);
}

function formBody(form) {
  const f = new FormData(form);
  const items = [...document.querySelectorAll(".item")].map((div) => {
    const v = (n) => div.querySelector(`[name=${n}]`).value.trim();
    return {drug_code: v("drug_code"), drug_name: v("drug_name"), dose: v("dose"), dose_unit: v("dose_unit"),
      frequency: v("frequency"), route: "po", days: Number(v("days")), quantity: v("quantity"), quantity_unit: v("quantity_unit")};
  });
  const body = {patient_id_number: f.get("patient_id_number"), sex: f.get("sex"), age_years: Number(f.get("age_years")),
    pregnant: f.get("pregnant") === "on", diagnoses: [{code: f.get("dx_code"), name: f.get("dx_name")}], items,
    allergies: (f.get("allergies") || "").split(/[,，]/).map((s) => s.trim()).filter(Boolean),
    channel: f.get("channel"), pharmacy_id: f.get("pharmacy_id") || null, valid_days: Number(f.get("valid_days"))};
  if (f.get("weight_kg")) body.weight_kg = f.get("weight_kg");
  if (body.channel === "home_delivery") body.contact = {name: f.get("c_name"), phone: f.get("c_phone"), address: f.get("c_address")};
  return body;
}

async function loadList() {
  try {
    const rows = await api("/api/prescriptions?limit=200");
    $("list").replaceChildren(...rows.map((r) => {
      const tr = document.createElement("tr");
      [new Date(r.issued_at).toLocaleString("zh-CN", {hour12: false}), r.drugs, CHANNEL[r.channel] || r.channel,
       (STATUS[r.status] || r.status) + (r.last_reason ? "（" + r.last_reason + "）" : "")].forEach((t) => {
        const td = document.createElement("td"); td.textContent = t; tr.append(td); });
      const td = document.createElement("td");
      if (["issued", "passed", "flagged", "approved"].includes(r.status)) {
        const b = document.createElement("button"); b.textContent = "撤销";
        b.onclick = async () => {
          const reason = prompt("撤销原因"); if (!reason) return;
          try { await api(`/api/prescriptions/${r.prescription_id}/cancel`, {reason}); say("已撤销", true); loadList(); }
          catch (e) { say(e.message); }
        };
        td.append(b);
      }
      tr.append(td); return tr;
    }));
  } catch (e) { say(e.message); }
}

$("token").value = localStorage.getItem(TOKEN) || "";
$("save").onclick = () => { localStorage.setItem(TOKEN, $("token").value.trim()); loadList(); };
$("reload").onclick = loadList;
$("add").onclick = addItem;
document.querySelector("[name=channel]").onchange = (e) => { $("contact").hidden = e.target.value !== "home_delivery"; };
$("rx").onsubmit = async (e) => {
  e.preventDefault();
  try {
    const r = await api("/api/prescriptions", formBody(e.target));
    const box = document.createElement("p");
    box.append("处方已开具并签名。请把取药码交给患者（系统不保存取药码）：");
    const code = document.createElement("span"); code.className = "code"; code.textContent = r.pickup_code;
    box.append(code);
    $("issued").replaceChildren(box); say("开具成功", true); loadList();
  } catch (err) { say(err.message); }
};
addItem();
loadList();
