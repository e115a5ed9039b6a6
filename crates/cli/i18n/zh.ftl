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
