# hongbao 命令行的简体中文消息（LANG/LC_ALL 为 zh_* 或 --lang zh 时使用）。
# 每条消息都必须在 en.ftl 中有对应项（单元测试会检查）。

sandbox-banner = 沙箱 — 没有真实资金流动（SANDBOX — no real money moved）
dry-run = 试运行：没有发送任何款项
error = 错误
interrupted = 已中断：再次运行同一命令即可继续
no-config = 没有配置：没有发送任何款项。真实付款请指定 --config 文件（或设置 HONGBAO_CONFIG，或 HONGBAO_MCH_ID 和 HONGBAO_APPID）；无需商户号试用请加 --sandbox（不会有真实资金流动）
invalid-rows = { $rows } 行无效：没有发送任何款项（请修改文件，或加 --skip-invalid 只支付有效的行）
skipped = 已跳过
skipped-why = （无效行，被 --skip-invalid 跳过：未支付）

summary-state = 状态
summary-rows = 笔数
summary-yuan = 金额（元）
summary-total = 合计
state-paid = 已支付
state-received = 已领取
state-refunded = 已退回
state-not_paid = 未支付
state-conflict = 单号冲突
state-unknown = 结果未知
state-sending = 发送中
state-planned = 待发送

plan-rows = 计划：本次支付 { $rows } 行，共 { $total } 元；最大一笔 { $largest } 元（第 { $line } 行）；类型 { $kind }
plan-nothing = 计划：没有新的款项需要支付
plan-duplicate = 重复收款人：{ $openid } 出现在第 { $lines } 行
confirm-pay = 支付 { $rows } 行，共 { $total } 元？[y/N]
not-confirmed = 未确认：没有导入或发送任何款项
no-terminal = 未确认：没有可以询问的终端。请核对上面的计划，在脚本中加 --yes 确认；没有导入或发送任何款项
over-amount = 已拒绝：第 { $line } 行金额 { $amount } 元，超过 max_amount { $cap } 元
over-total = 已拒绝：{ $rows } 行共 { $total } 元，超过 max_total { $cap } 元
caps-refused = 没有导入或发送任何款项（请修改文件，或调高 --max-amount / --max-total 或配置中的 max_amount / max_total）
duplicates-refused = 已拒绝：文件中有 { $payees } 个收款人出现多次；没有导入或发送任何款项。加 --allow-duplicates 支付每一行，或用不同的 key（key 列）区分这些行
server-sandbox = 服务器：{ $id }（沙箱账本：没有真实资金流动）
server-real = 服务器：{ $id }
server-unknown = 服务器：未知（未记录：由旧版 hongbao 写入的账本）

## ---- notify / logs / progress (branch notify; keep this block together) ----
notify-all-batches = （全部批次）
notify-title = **hongbao 批次 { $batch }**：运行结束
notify-title-sandbox = **[沙箱 — 没有真实资金流动]** hongbao 批次 { $batch }：沙箱运行结束
notify-title-dry-run = **hongbao 批次 { $batch }**：试运行（没有发送任何款项）
notify-paid = 已支付：{ $rows } 笔（{ $total } 元）
notify-not-paid = 未支付：{ $rows } 笔（{ $total } 元）
notify-unknown = 结果未知：{ $rows } 笔（{ $total } 元）：再次运行同一命令即可确认（切勿手动重新支付）
notify-conflict = 单号冲突：{ $rows } 笔（单号属于另一笔付款）
notify-planned = 尚未发送：{ $rows } 笔（{ $total } 元）
notify-refunded = 已退回：{ $rows } 笔（{ $total } 元）
notify-skipped = 跳过的无效行：{ $rows } 行（未支付）
notify-interrupted = 已中断：再次运行同一命令即可继续
notify-halted = 提前停止：{ $why }
notify-server = 服务器：{ $id }
notify-sent = 已通知 webhook：{ $url }
notify-failed = 警告：未能通知 webhook { $url }（{ $error }）；批次的结果和退出码不变
unknown-by-cause = 警告：{ $rows } 笔结果未知：{ $causes }；再次运行同一命令即可确认（切勿手动重新支付）
unknown-row = 结果未知：第 { $line } 行，单号 { $bill }：{ $cause }
conflict-count = 警告：{ $rows } 笔单号冲突：单号属于另一笔付款（见 `hongbao batch report`）
cause-sending = 没有记录到应答
phase-resolving = 正在确认
phase-paying = 正在支付
phase-reconciling = 正在对账
phase-refreshing = 正在刷新
progress-line = { $phase }：{ $done } / { $total }
progress-rate = { $rate } 笔/秒
progress-rate-minute = { $rate } 笔/分钟
progress-eta = 预计还需 { $eta }
duration-seconds = { $n } 秒
duration-minutes = { $n } 分钟
duration-hours = { $h } 小时 { $m } 分钟
run-rate = 共处理 { $done } 笔，用时 { $elapsed } · { $rate }
