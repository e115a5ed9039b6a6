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

## --- 标准错误输出上的进度、提示和警告（issue #13 §5）---
sandbox-started = { $banner }：通过本次运行启动的沙箱付款，地址 { $url }
note = 提示
warning = 警告
invalid = 无效
refused = 已拒绝
row-refused = 第 { $line } 行：key { $key } 已存在、参数不同且可能已支付（{ $state }）：账本中为 { $old }；文件中为 { $new }
bill-taken = 第 { $line } 行：单号 { $bill } 已被 { $holder } 使用
row-replaced = 第 { $line } 行：key { $key } 确定未支付（{ $state }）；改用文件中的参数和新的单号
similar-payout = 第 { $line } 行：{ $openid } 收到 { $amount } 元，与最近 30 天内{ $where }的付款 { $key } 金额相同
similar-batch = 批次 { $batch } 中
similar-single = 一笔单独付款中
rows-refused = { $rows } 行被拒绝：没有导入或发送任何款项。可能已支付的款项保持原参数；要付给其他人或改金额，请给该行新的 key（key 列）或使用另一个 --batch
batch-planned = 批次 { $batch }（账本 { $journal }）：新增 { $new } 行，未变 { $unchanged } 行，替换 { $replaced } 行{ $skipped }
batch-resuming = 继续批次 { $batch }（账本 { $journal }）：新增 { $new } 行，未变 { $unchanged } 行，替换 { $replaced } 行{ $skipped }
batch-skipped = ，跳过 { $rows } 个无效行（未支付）
ctrl-c = 已中断：等发送中的请求完成后停止（再次运行同一命令即可继续）
renumbered = 第 { $line } 行：单号 { $old } 属于另一笔付款（该收款人在此单号下没有收到款项）；单号是本工具生成的，因此换用了新单号：{ $new }
stopped-early = 提前停止
disagreement = 不一致
queried = 已查询 { $rows } 行
disagreements = 微信与账本有 { $rows } 处不一致：再次付款前请先核对
wrote = 已写入 { $path }
worker-started = worker 运行于 { $location }：同时 { $concurrency } 个请求，{ $limit }，租约 { $lease } 秒
worker-limit = 共享频率限制每分钟 { $rate } 个请求
worker-no-limit = 不限频率
worker-halted = 已停止
worker-stopped = worker 已停止：本 worker 完成了 { $paid } 笔款项
worker-stopped-signal = worker 已停止（收到信号）：本 worker 完成了 { $paid } 笔款项
worker-stopping = 正在停止：等待进行中的请求完成

## --- 帮助（--help）：标题和 clap 生成的文字（issue #13 §5）---
help-heading-usage = 用法
help-heading-options = 选项
help-heading-arguments = 参数
help-heading-commands = 命令
help-flag-help = 显示帮助
help-flag-help-more = 显示帮助（用 --help 查看详细说明）
help-flag-help-summary = 显示帮助（用 -h 查看摘要）
help-flag-version = 显示版本
help-command-help = 显示本帮助，或指定子命令的帮助
help-note-default = [默认值: { $value }]
help-note-env = [环境变量: { $name }]
help-note-aliases = [别名: { $aliases }]
help-note-values = [可选值: { $values }]
help-values-heading = 可选值:
sandbox-unused-option = `hongbao sandbox` 不使用 { $option }：沙箱的设置来自它自己的选项（见 `hongbao sandbox --help`）

## --- 帮助（--help）：命令和选项，id 取自命令树 ---
help-hongbao = `hongbao` 命令行：单笔付款、以 SQLite 账本保证恰好一次且可续跑的批量付款、对账，以及 SIGN_ERROR 调试器。
help-hongbao-long =
    发放微信红包、企业微信付款和企业付款到零钱——一次一笔，或把整个 CSV 文件恰好支付一次——并调试 SIGN_ERROR。

    与微信支付通信的命令（send、query、batch run、batch reconcile）需要配置：`--config 文件`（或 HONGBAO_CONFIG），或 HONGBAO_MCH_ID 和 HONGBAO_APPID 以及其他 HONGBAO_* 变量。`--sandbox` 则通过内置沙箱付款（没有真实资金流动；每项输出都会注明）。两者都没有时，这些命令拒绝运行。

    设置依次取自：命令行选项，然后是 `HONGBAO_<设置名>` 环境变量（HONGBAO_MCH_ID、HONGBAO_APPID、HONGBAO_BASE_URL、HONGBAO_CLIENT_CERT、HONGBAO_RATE_PER_MINUTE……每个配置项一个），最后是配置文件。

    密钥从不来自命令行选项：API 密钥从环境变量 HONGBAO_API_KEY 或配置中的 `api_key_file` 读取；企业微信应用 secret 从 HONGBAO_WORKWX_SECRET 或 `workwx_secret_file` 读取。

    退出码：0 全部已支付 / 成功；1 部分未支付；2 输入无效（或批次超过上限、或有重复收款人），没有发送任何款项；3 部分结果未知（再次运行即可确认）；4 配置、账本或 I/O 错误，或批量付款未确认；130 已中断（再次运行即可继续）。
help-hongbao-config = 配置文件（TOML）。除非指定 `--sandbox`，付款或查询的命令在没有配置（此选项、HONGBAO_CONFIG，或 HONGBAO_MCH_ID 和 HONGBAO_APPID）时拒绝运行
help-hongbao-sandbox = 通过进程内启动的沙箱付款（无需商户号；没有真实资金流动；每个汇总、报表和 JSON 输出都标注为沙箱）
help-hongbao-lang = 汇总和消息的语言：en 或 zh（简体中文）。默认取自 LC_ALL / LC_MESSAGES / LANG（zh_* 为中文），否则为 en
help-value-lang-en = 英语
help-value-lang-zh = 简体中文
help-sandbox = 运行微信支付模拟器（选项和 JSON 启动行与 `hongbao-sandbox` 相同）
help-sandbox-listen = 监听地址
help-sandbox-plain-http = 使用普通 HTTP 而非双向 TLS（测试、其他语言的客户端）
help-sandbox-mch-id = 模拟的商户号
help-sandbox-appid = 绑定到该商户的 appid
help-sandbox-api-key-file = 存放 API 密钥的文件（代替 HONGBAO_API_KEY 变量）
help-sandbox-workwx-secret-env = 某个企业微信应用的 secret，从环境变量读取：AGENTID=变量名（可重复）
help-sandbox-balance-yuan = 初始余额，单位元（最多两位小数）
help-sandbox-seed = 故障生成器的种子
help-sandbox-cert-dir = 存放 ca.pem、ca.key、client.pem、client.key、client.p12 的目录（已存在则复用）。默认：系统临时目录下新建的目录
help-sandbox-fault = 故障概率，类型=P（可重复），例如 drop_after_commit=0.1
help-sandbox-fault-delay-ms = delay_after_commit 延迟应答的时长，单位毫秒
help-sandbox-receive-after-secs = 红包发出后多少秒被领取
help-sandbox-never-open = 没有人领取红包：24 小时后退回
help-sandbox-night-ban = 北京时间 00:00 至 08:00 拒绝发红包（TIME_LIMITED）
help-sandbox-unlimited = 关闭所有每日上限和频率限制（金额范围仍然有效）
help-sandbox-failing-openid = 付给此 openid 的款项确定失败（可重复）
help-sandbox-per-minute = 每滚动一分钟的红包数（默认 1800，微信的配额）；压力测试时可调高，例如 6000
help-sandbox-transfer-per-second = 每秒企业付款到零钱笔数（默认 100，微信的配额）
help-send = 付一笔款并显示结果
help-send-kind = 付款类型
help-value-kind-red-packet = 现金红包（`sendredpack`）
help-value-kind-group-red-packet = 裂变红包（`sendgroupredpack`；2024-06-05 起已下线）
help-value-kind-workwx-red-packet = 企业微信企业红包（`sendworkwxredpack`）
help-value-kind-pay-employee = 企业微信向员工付款（`paywwsptrans2pocket`）
help-value-kind-transfer = 企业付款到零钱（`promotion/transfers`）
help-send-to = 收款人 openid
help-send-amount = 金额，单位元，例如 1.00
help-send-bill = 单号（不指定则自动生成）。重试同一笔付款时请复用此单号
help-send-name = 真实姓名：开启 FORCE_CHECK 校验（企业付款到零钱、向员工付款）
help-send-total-num = 裂变红包：一个红包可被多少人领取，含分享者（3–20；默认 3 或配置中的 `total_num`）。微信把 `--amount`（整组红包的总额）随机分给他们，人均须为 1–200 元：例如 3 个红包至少 3.00 元、至多 600.00 元
help-send-send-name = 商户名称（红包）
help-send-act-name = 活动 / 项目名称
help-send-wishing = 祝福语（红包）
help-send-remark = 备注（红包）
help-send-sender-name = 企业微信红包：以此人的名义发送
help-send-agentid = 企业微信：以此应用 id 的名义发送
help-send-desc = 付款说明（企业付款到零钱、向员工付款）
help-send-scene-id = scene_id（红包金额小于 1 元或大于 200 元时），例如 PRODUCT_4
help-send-json = 以 JSON 输出结果（标准输出上只有 JSON）
help-query = 按单号向微信查询一笔付款的状态
help-query-kind = 该单号所属的付款类型
help-query-bill = 单号（mch_billno 最多 28 位，partner_trade_no 最多 32 位 ASCII 字母和数字）；发送前先检查
help-query-json = 以 JSON 输出结果（标准输出上只有 JSON）
help-sign = SIGN_ERROR 调试器：从标准输入读取请求（XML 或 JSON 对象），显示待签名字符串（密钥已遮盖）和签名，并诊断与请求自带签名不一致的原因：算法错误、对空值或 sign_type 签了名、值被去掉空格、字段未排序（XML 保持正文顺序）、密钥拼接时缺少 `&key=`、值经过 URL 编码（quote、quote_plus）、文本按 GBK 计算哈希。没有密钥时仍会显示待签名字符串（并以 4 退出）
help-sign-hmac = 主签名使用 HMAC-SHA256 而非 MD5
help-sign-workwx = 改为计算企业微信的 `workwx_sign`（使用企业微信应用 secret）
help-value-workwx-red-packet = 企业微信红包（`sendworkwxredpack`）
help-value-workwx-pay-employee = 向员工付款（`paywwsptrans2pocket`）
help-sign-json = 输出 `{"{"}"string_to_sign":…,"sign":…{"}"}`
help-batch = 从 CSV 或 .xlsx 文件批量付款，恰好一次，并记入账本
help-batch-run = 校验、计划并支付一个 CSV 或 .xlsx 文件；再次运行同一命令即可继续
help-batch-run-file = 付款文件：CSV（UTF-8、带 BOM 的 UTF-8，或中文 Windows 上 Excel 保存的 GB18030/GBK）或 .xlsx 工作簿（第一个工作表）
help-batch-run-file-long =
    付款文件：CSV（UTF-8、带 BOM 的 UTF-8，或中文 Windows 上 Excel 保存的 GB18030/GBK）或 .xlsx 工作簿（第一个工作表）。

    表头：`openid,amount`，另可选 `bill`、`name`、`send_name`、`act_name`、`wishing`、`remark`、`sender_name`、`agentid`、`desc`、`scene_id`、`total_num`。也接受中文表头：收款人openid、用户openid（openid）；金额、金额(元)、金额（元）、红包金额、付款金额（amount）；单号、商户订单号（bill）；姓名、真实姓名、收款人姓名（name）；商户名称（send_name）；活动名称（act_name）；祝福语（wishing）；备注（remark）；发送者名称（sender_name）；付款说明、付款备注（desc）；场景id（scene_id）；红包个数（total_num）。其他列会被忽略（并提示一次）；空行和行尾多余的逗号没有关系。
help-batch-run-kind = 付款类型
help-batch-run-journal = 账本（SQLite 文件）：每个商户号和服务器一个，可容纳任意多个批次；同一时间只允许一个进程使用（通过 `<账本>.lock` 加锁）。旧版本的账本会就地迁移
help-batch-run-batch = 账本中的批次（默认：文件名去掉扩展名）。把修改后的文件再次运行到同一批次时，只支付新增和修正的行
help-batch-run-dry-run = 校验并计划（单号会写入账本）；不发送任何款项
help-batch-run-skip-invalid = 即使有无效行也支付有效的行（无效行会被报告、计入汇总并跳过；此时退出码至少为 1）
help-batch-run-reissue-not-paid = 为确定失败（not_paid）的行分配新单号并重新支付
help-batch-run-resend-refunded = 以新单号重新发放未领取而退回（refunded）的红包
help-batch-run-concurrency = 同时进行中的请求数
help-batch-run-rate-per-minute = 覆盖配置中的频率限制（每分钟请求数；0 = 不限）
help-batch-run-no-progress = 不显示进度条，即使在终端上
help-batch-run-json = 以 JSON 输出最终汇总（标准输出上只有 JSON；含字段 `dry_run`、`sandbox`、`interrupted`、`skipped_invalid_rows`）
help-batch-run-bind-server = 对于旧版 hongbao 写入、没有记录付款服务器的账本（这样的账本会被拒绝）：把本次运行的服务器记入账本并继续。仅在确定就是该服务器时使用
help-batch-run-yes = 无需询问即确认计划（用于脚本）。发送前，运行会显示计划（行数、总额、最大金额、类型、重复收款人），并在终端上询问“支付 N 行，共 X 元？[y/N]”；没有终端且没有 --yes 时拒绝运行（退出码 4）。使用 --dry-run 或 --sandbox 时不需要（没有资金流动）
help-batch-run-max-amount = 如果要支付的某一行超过此金额（元），拒绝该文件（退出码 2，不发送任何款项）（默认：配置中的 `max_amount`，HONGBAO_MAX_AMOUNT）
help-batch-run-max-total = 如果要支付的行合计超过此金额（元），拒绝本次运行（退出码 2，不发送任何款项）（默认：配置中的 `max_total`，HONGBAO_MAX_TOTAL）
help-batch-run-allow-duplicates = 支付在文件中出现多次的收款人（openid）。没有此选项时这样的文件会被拒绝（退出码 2，不发送任何款项），除非 `key` 列给这些行不同的 key
help-batch-status = 显示账本的汇总表
help-batch-status-journal = 账本（SQLite 文件）
help-batch-status-batch = 批次（默认：账本中唯一的批次，否则为整个账本）
help-batch-status-json = JSON 输出（标准输出上只有 JSON）
help-batch-reconcile = 向微信查询每一笔已发送的行（已支付、未支付、发送中、结果未知、单号冲突），记录答复，并报告微信与账本不一致之处；不发送任何款项。有不一致时以 1 退出（仍有结果未知时以 3 退出）
help-batch-reconcile-journal = 账本（SQLite 文件）
help-batch-reconcile-batch = 批次（默认：账本中唯一的批次，否则为整个账本）
help-batch-reconcile-json = JSON 输出（标准输出上只有 JSON）
help-batch-reconcile-bind-server = 对于旧版 hongbao 写入、没有记录付款服务器的账本（这样的账本会被拒绝）：把本次运行的服务器记入账本并继续。仅在确定就是该服务器时使用
help-batch-report = 输出逐行报表：CSV 到标准输出，`--json` 到标准输出，`--csv 文件`（供 Excel 使用：UTF-8 BOM，编号保持为文本）和/或 `--xlsx 文件`
help-batch-report-journal = 账本（SQLite 文件）
help-batch-report-batch = 批次（默认：账本中唯一的批次，否则为整个账本）
help-batch-report-json = JSON 输出（标准输出上只有 JSON）
help-batch-report-csv = 把报表写成供 Excel 使用的 CSV 文件：带 BOM 的 UTF-8，单号和微信单号写成 ="…"，使 Excel 保留每一位数字（标准输出的 CSV 保持原样，供脚本使用）
help-batch-report-xlsx = 把报表写成 Excel 工作簿（.xlsx）文件，编号为文本
help-batch-refresh = 向微信查询已发出的红包，记录哪些已被领取（received）或未领取而退回（refunded），以及时间
help-batch-refresh-journal = 账本（SQLite 文件）
help-batch-refresh-batch = 批次（默认：账本中唯一的批次，否则为整个账本）
help-batch-refresh-json = JSON 输出（标准输出上只有 JSON）
help-worker = 从任意进程支付 PostgreSQL 账本中所有到期的款项，直到被停止（SIGTERM 或 Ctrl-C：先记录进行中的请求）。可以在任意多台机器上运行任意多个：认领是带隔离的租约，商户的频率限制共享
help-worker-journal = 账本：`postgres://user@host:port/db`（libpq URL 选项，如 `sslmode=require`、`sslrootcert=FILE`、`pool_size=N`）。也可以用 SQLite 文件，但只能有一个进程使用
help-worker-concurrency = 本进程同时进行中的请求数
help-worker-batch = 只处理此批次的款项（默认：账本中所有到期的款项）
help-worker-rate-per-minute = 账本所有 worker 共享的商户频率限制（每分钟请求数；默认：配置中的 `rate_per_minute`；0 = 不限）
help-worker-lease-secs = 认领的有效时长，单位秒：已退出的 worker 认领的款项在此之后被接管（先查询）
help-worker-idle-ms = 没有到期款项时两轮之间的暂停，单位毫秒
help-worker-reissue-not-paid = 为确定失败（下一步：新单号）的款项分配新单号并重新支付
help-worker-exit-when-idle = 没有到期款项时跑完一轮即停止（用于脚本和测试）
help-completions = 输出 shell 补全脚本，例如 `hongbao completions bash > /etc/bash_completion.d/hongbao`
help-completions-shell = shell 类型
help-man = 把 man 手册页（hongbao.1 和每个子命令一页）写入目录（供 `cargo xtask man` 使用）
help-man-out-dir = 写入手册页的目录（不存在则创建）
help-hongbao-verbose = 更多日志输出（-v：debug，-vv：trace）。日志写到标准错误。默认级别下，批量付款对每种原因只警告一次并给出计数（例如“3 笔结果未知：SYSTEMERROR 2，……”）；-v 则每行一条
help-hongbao-log-format = 标准错误上日志行（警告、进度、错误）的格式：`text` 供人阅读（默认），或 `json`：每行一个 JSON 对象（`ts` RFC 3339、`level`、`event`、`message`、`fields`），供日志收集器使用。标准输出不变
help-value-log-format-text = 供人阅读的文本（默认）
help-value-log-format-json = 每行一个 JSON 对象：`ts`（RFC 3339）、`level`、`event`、`message`、`fields`
help-batch-run-notify = 运行结束时把本次汇总以 JSON 形式 POST 到此 webhook，格式同企业微信群机器人（`{"{"}"msgtype":"markdown",…{"}"}`：批次、已支付、未支付、结果未知、单号冲突、跳过的行；沙箱运行标注 SANDBOX）。默认：HONGBAO_NOTIFY_URL，否则为配置中的 `notify_url`（建议用这两者：命令行上的 URL 本机其他用户可见）。webhook 失败只在标准错误上警告（URL 的查询部分被遮盖）：绝不改变退出码
help-worker-notify = worker 停止时把汇总（`--batch` 的，否则为整个账本的）以 JSON 形式 POST 到此 webhook，格式同企业微信群机器人（见 `batch run --notify`）。默认：HONGBAO_NOTIFY_URL，否则为配置中的 `notify_url`。webhook 失败只在标准错误上警告（URL 的查询部分被遮盖）：绝不改变退出码
