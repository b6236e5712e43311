"""The regulator's report as one self-contained HTML page, in Simplified Chinese."""

from __future__ import annotations

from html import escape
from typing import Any

from events.directory import DEMO_ORGS
from services.audit.charts import bars, donut

ORG = {o.org_id: o.name_zh for o in DEMO_ORGS}
CHANNEL = {"hospital": "医院药房", "retail": "定点零售药店", "any_designated": "任一定点药店（取药码）",
           "home_delivery": "送药上门"}
STATUS = {"issued": "已开具", "passed": "规则审核通过", "flagged": "待药师审核", "approved": "已批准",
          "rejected": "已驳回",
          "cancelled": "已撤销", "expired": "已过期", "claimed": "药房已接单", "dispensed": "已发药",
          "delivery_requested": "待配送", "assigned": "已派单", "picked_up": "配送中", "delivered": "已送达",
          "delivery_failed": "配送失败", "returned": "已退回药房"}
FINDINGS = {  # category: (title, why it matters)
    "dispensed_without_approval": ("未经审核批准即发药", "处方须经药师审核通过后方可调配（医疗机构处方审核规范）"),
    "dispensed_twice": ("重复发药", "一张处方在所有渠道、所有药房只能发药一次"),
    "dispensed_after_cancellation": ("撤销后发药", "医师撤销的处方不得再调配"),
    "dispensed_after_expiry": ("过期后发药", "处方当日有效，延长最多 3 天（处方管理办法第十八条）"),
    "dispensed_without_claim": ("未接单即发药", "发药药房须先独占接单"),
    "trace_code_reused": ("药品追溯码重复使用",
                          "一盒药一个追溯码，只能发出一次（一码一用）；重复出现可能是扫码差错或回流药"),
    "controlled_outside_hospital": ("管制或禁止网售药品在院外发出",
                                    "麻醉、精神药品及禁止网络销售药品不得流转至零售药店"),
    "pharmacist_overrides": ("药师越过审核规则", "药师签名放行了规则标记的问题，需抽查理由"),
    "failed_deliveries": ("配送失败", "送药上门未能交付患者"),
    "void_events": ("无效事件", "与处方当前状态不符、被日志顺序裁定为无效的签名事件"),
}
CSS = """body{font-family:"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;margin:2rem auto;
max-width:1000px;color:#1f2933;line-height:1.5}h1{font-size:1.6rem}h2{font-size:1.2rem;
border-bottom:2px solid #d9e2ec;margin-top:2.2rem}.cards{display:flex;gap:.8rem;flex-wrap:wrap}
.card{background:#f0f4f8;border-radius:6px;padding:.7rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.4rem}.ok{color:#127a3a}.bad{color:#b42318}.muted{color:#7b8794}
table{border-collapse:collapse;width:100%;font-size:.85rem;margin:.5rem 0}td,th{border-bottom:1px solid #e4e7eb;
padding:.3rem;text-align:left;vertical-align:top}code{font-size:.8rem;word-break:break-all}
.chart text{font-size:13px;fill:#1f2933}details{margin:.4rem 0}"""


def _card(label: str, value: Any, cls: str = "") -> str:
    return f'<div class="card">{escape(label)}<b class="{cls}">{escape(str(value))}</b></div>'


def _named(counts: dict[str, int], names: dict[str, str]) -> list[tuple[str, float]]:
    return [(names.get(k, k), v) for k, v in counts.items()]


def _verification(v: dict[str, Any]) -> str:
    verdict = ('<b class="ok">日志完整，签名全部有效</b>' if v["ok"] else
               f'<b class="bad">发现 {v["problems"]["total"]} 个问题</b>')
    first = "".join(f"<li><code>{escape(p)}</code></li>" for p in v["problems"]["first"][:10])
    rejected = "、".join(f"{k} {n} 条" for k, n in v["rejected"].items()) or "无"
    last = v.get("last_checkpoint") or {}
    return (f'<div class="cards">{_card("账本条目", v["entries"])}{_card("验证通过", v["accepted"])}'
            f'{_card("拒收消息", sum(v["rejected"].values()), "bad" if v["rejected"] else "")}'
            f'{_card("签名检查点", v["checkpoints"])}{_card("无效事件", v["voids"])}</div>'
            f"<p>核验结论：{verdict}。拒收原因：{escape(rejected)}。"
            f'最新检查点：树大小 {last.get("tree_size", "—")}，'
            f'根哈希 <code>{escape(str(last.get("root_hash", "—")))}</code></p>'
            + (f"<ul>{first}</ul>" if first else ""))


def _finding(key: str, found: dict[str, Any]) -> str:
    title, why = FINDINGS[key]
    rows = "".join(
        f'<tr><td>{e["line"]}</td><td><code>{escape(e["prescription_id"])}</code></td><td>{escape(e["actor"])}</td>'
        f'<td>{escape(e["occurred_at"])}</td><td>{escape(e["detail"])}</td></tr>' for e in found["examples"][:20])
    cls = "bad" if found["count"] and key not in ("failed_deliveries", "void_events") else ""
    table = (f"<details><summary>前 {min(20, len(found['examples']))} 例</summary><table><tr><th>行</th><th>处方</th>"
             f"<th>签名人</th><th>时间</th><th>说明</th></tr>{rows}</table></details>" if rows else "")
    return (f'<tr><td>{escape(title)}</td><td class="{cls}"><b>{found["count"]}</b></td>'
            f'<td class="muted">{escape(why)}</td></tr><tr><td colspan="3">{table}</td></tr>')


def render(report: dict[str, Any]) -> str:
    """The whole page."""
    figures, findings = report["figures"], report["findings"]
    channels = {k: v["count"] for k, v in figures["channels"].items()}
    as_of = report.get("as_of") or "日志末尾"
    body = [
        f"<h1>电子处方流转监管报告</h1><p class=\"muted\">生成时间 {escape(report['generated_at'])}；"
        f"数据来源 <code>{escape(report['source'])}</code>；统计截至 {escape(as_of)}。</p>",
        "<h2>一、日志核验</h2>", _verification(report["verification"]),
        "<h2>二、违规与关注事项</h2><table><tr><th>事项</th><th>数量</th><th>依据</th></tr>",
        *(_finding(k, findings[k]) for k in FINDINGS), "</table>",
        f"<h2>三、业务概况</h2><div class=\"cards\">{_card('处方总数', figures['prescriptions'])}</div>",
        "<h3>处方渠道占比</h3>", donut(_named(channels, CHANNEL)),
        "<h3>各药房发药量</h3>", bars(_named(figures["dispensed_per_pharmacy"], ORG), unit=" 张"),
        "<h3>各诊所开方量</h3>", bars(_named(figures["issued_per_clinic"], ORG), unit=" 张"),
        "<h3>处方当前状态</h3>", bars(_named(figures["by_status"], STATUS), unit=" 张"),
        "<h3>无效事件分类</h3>", bars(list(figures["void_by_kind"].items())),
    ]
    return (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>电子处方流转监管报告</title>'
            f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>")
