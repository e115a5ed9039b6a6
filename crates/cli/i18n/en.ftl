# English messages of the `hongbao` command line (the default).
# Every message here must also be in zh.ftl (a unit test checks it).

sandbox-banner = SANDBOX — no real money moved
dry-run = dry run: nothing sent
error = error
interrupted = interrupted: rerun the same command to resume
no-config = no configuration: nothing was sent. To pay for real give --config FILE (or set HONGBAO_CONFIG, or HONGBAO_MCH_ID and HONGBAO_APPID); to try it out without an account give --sandbox (no real money moves)
invalid-rows = { $rows } invalid row(s): nothing was sent (fix the file, or pass --skip-invalid to pay only the valid rows)
skipped = skipped
skipped-why = (invalid, left out by --skip-invalid: not paid)

summary-state = state
summary-rows = rows
summary-yuan = yuan
summary-total = total
state-paid = paid
state-received = received
state-refunded = refunded
state-not_paid = not_paid
state-conflict = conflict
state-unknown = unknown
state-sending = sending
state-planned = planned

plan-rows = plan: { $rows } row(s) to pay, { $total } yuan in all; largest { $largest } yuan (line { $line }); kind { $kind }
plan-nothing = plan: nothing new to pay
plan-duplicate = duplicate payee: { $openid } appears on lines { $lines }
confirm-pay = pay { $rows } row(s), { $total } yuan? [y/N]
not-confirmed = not confirmed: nothing was imported or sent
no-terminal = not confirmed: no terminal to ask on. Check the plan above and pass --yes to confirm it in a script; nothing was imported or sent
over-amount = refused: line { $line } pays { $amount } yuan, over max_amount { $cap } yuan
over-total = refused: { $rows } row(s) pay { $total } yuan in all, over max_total { $cap } yuan
caps-refused = nothing was imported or sent (fix the file, or raise --max-amount / --max-total or max_amount / max_total in the config)
duplicates-refused = refused: { $payees } payee(s) appear more than once in the file; nothing was imported or sent. Pass --allow-duplicates to pay every row, or tell the rows apart with distinct keys (a `key` column)
server-sandbox = server: { $id } (sandbox journal: no real money moved)
server-real = server: { $id }
server-unknown = server: unknown (not recorded: journal written by an older hongbao)

## ---- notify / logs / progress (branch notify; keep this block together) ----
notify-all-batches = (all batches)
notify-title = **hongbao batch { $batch }**: run finished
notify-title-sandbox = **[SANDBOX — no real money moved]** hongbao batch { $batch }: sandbox run finished
notify-title-dry-run = **hongbao batch { $batch }**: dry run (nothing sent)
notify-paid = paid: { $rows } ({ $total } yuan)
notify-not-paid = not paid: { $rows } ({ $total } yuan)
notify-unknown = unknown: { $rows } ({ $total } yuan): rerun the same command to resolve (never pay them again by hand)
notify-conflict = conflicts: { $rows } (the bill number belongs to another payment)
notify-planned = not sent yet: { $rows } ({ $total } yuan)
notify-refunded = refunded: { $rows } ({ $total } yuan)
notify-skipped = invalid rows skipped: { $rows } (not paid)
notify-interrupted = interrupted: rerun the same command to resume
notify-halted = stopped early: { $why }
notify-server = server: { $id }
notify-sent = webhook notified: { $url }
notify-failed = warning: the webhook { $url } was not notified ({ $error }); the batch's outcome and exit code are unchanged
unknown-by-cause = warning: { $rows } payout(s) unknown: { $causes }; rerun the same command to resolve them (never pay them again by hand)
unknown-row = unknown: line { $line }, bill { $bill }: { $cause }
conflict-count = warning: { $rows } payout(s) in conflict: their bill number belongs to another payment (see `hongbao batch report`)
cause-sending = no answer recorded
phase-resolving = resolving
phase-paying = paying
phase-reconciling = reconciling
phase-refreshing = refreshing
progress-line = { $phase }: { $done } / { $total }
progress-rate = { $rate }/s
progress-rate-minute = { $rate }/min
progress-eta = about { $eta } left
duration-seconds = { $n } s
duration-minutes = { $n } min
duration-hours = { $h } h { $m } min
run-rate = { $done } payout(s) handled in { $elapsed } · { $rate }

## --- Progress, notes and warnings on stderr (issue #13 §5) ---
sandbox-started = { $banner }: paying through a sandbox started for this run at { $url }
note = note
warning = warning
invalid = invalid
refused = refused
row-refused = line { $line }: key { $key } exists with other parameters and may be paid ({ $state }): stored { $old }; file { $new }
bill-taken = line { $line }: bill number { $bill } is already used by { $holder }
row-replaced = line { $line }: key { $key } was definitely not paid ({ $state }); it takes the file's parameters and a new bill number
similar-payout = line { $line }: { $openid } gets { $amount } yuan, the same amount as payout { $key } in { $where } within the last 30 days
similar-batch = batch { $batch }
similar-single = a single payout
rows-refused = { $rows } row(s) refused: nothing was imported or sent. A payout that may be paid keeps its parameters; to pay someone else or another amount, give the row a new key (a `key` column) or use another --batch
batch-planned = batch { $batch } in { $journal }: { $new } new, { $unchanged } unchanged, { $replaced } replaced row(s){ $skipped }
batch-resuming = resuming batch { $batch } in { $journal }: { $new } new, { $unchanged } unchanged, { $replaced } replaced row(s){ $skipped }
batch-skipped = , { $rows } invalid row(s) skipped (not paid)
ctrl-c = interrupted: finishing the requests in flight, then stopping (rerun to resume)
renumbered = line { $line }: bill { $old } belongs to another payment (nothing was paid to this payee under it); the tool had chosen it, so it took a new one: { $new }
stopped-early = stopped early
disagreement = disagreement
queried = queried { $rows } row(s)
disagreements = { $rows } disagreement(s) between WeChat and the ledger: check them before paying anyone again
wrote = wrote { $path }
worker-started = worker on { $location }: { $concurrency } in flight, { $limit }, lease { $lease } s
worker-limit = shared limit { $rate } requests/min
worker-no-limit = no rate limit
worker-halted = stopped
worker-stopped = worker stopped: { $paid } payout(s) finished by this worker
worker-stopped-signal = worker stopped (signal): { $paid } payout(s) finished by this worker
worker-stopping = stopping: finishing the requests in flight

## --- Help (`--help`): headings and texts clap generates (issue #13 §5) ---
help-heading-usage = Usage
help-heading-options = Options
help-heading-arguments = Arguments
help-heading-commands = Commands
help-flag-help = Print help
help-flag-help-more = Print help (see more with '--help')
help-flag-help-summary = Print help (see a summary with '-h')
help-flag-version = Print version
help-command-help = Print this message or the help of the given subcommand(s)
help-note-default = [default: { $value }]
help-note-env = [env: { $name }]
help-note-aliases = [aliases: { $aliases }]
help-note-values = [possible values: { $values }]
help-values-heading = Possible values:
sandbox-unused-option = `hongbao sandbox` does not use { $option }: the sandbox takes its settings from its own options (see `hongbao sandbox --help`)

## --- Help (`--help`): the commands and options, ids from the command tree ---
## (equal to the doc comments in src/cli.rs; a unit test checks it)
help-hongbao = The `hongbao` command line: single payouts, exactly-once resumable batch payouts with a SQLite journal, reconciliation, and a SIGN_ERROR debugger.
help-hongbao-long =
    Pay WeChat red packets, WeCom payouts and transfers — one at a time or a whole CSV file exactly once — and debug SIGN_ERROR.

    Commands that talk to WeChat Pay (send, query, batch run, batch reconcile) need a configuration: `--config FILE` (or HONGBAO_CONFIG), or HONGBAO_MCH_ID and HONGBAO_APPID with the other HONGBAO_* variables. `--sandbox` pays through the built-in sandbox instead (no real money moves; every output says so). Without either they refuse to run.

    Settings come from flags, then `HONGBAO_<SETTING>` environment variables (HONGBAO_MCH_ID, HONGBAO_APPID, HONGBAO_BASE_URL, HONGBAO_CLIENT_CERT, HONGBAO_RATE_PER_MINUTE, … one per config setting), then the config file.

    Secrets never come from flags: the API key is read from the environment variable HONGBAO_API_KEY or from `api_key_file` in the config; the WeCom app secret from HONGBAO_WORKWX_SECRET or `workwx_secret_file`.

    Exit codes: 0 all paid / success; 1 some not paid; 2 invalid input (or a batch over a cap, or with duplicate payees), nothing sent; 3 some outcomes unknown (rerun to resolve); 4 configuration, journal or I/O error, or a batch run not confirmed; 130 interrupted (rerun to resume).
help-hongbao-config = Config file (TOML). Commands that pay or query refuse to run without a configuration (this, HONGBAO_CONFIG, or HONGBAO_MCH_ID and HONGBAO_APPID) unless `--sandbox` is given
help-hongbao-sandbox = Pay through a sandbox started in-process (no account needed; no real money moves; every summary, report and JSON output is marked as sandbox)
help-hongbao-lang = Language of the summary and messages: en or zh (Simplified Chinese). Default: from LC_ALL / LC_MESSAGES / LANG (zh_* is Chinese), else en
help-value-lang-en = English
help-value-lang-zh = Simplified Chinese
help-sandbox = Run the WeChat Pay emulator (same flags and JSON start line as `hongbao-sandbox`)
help-sandbox-listen = Address to listen on
help-sandbox-plain-http = Serve plain HTTP instead of mutual TLS (tests, clients in other languages)
help-sandbox-mch-id = Merchant id served
help-sandbox-appid = App id bound to the merchant
help-sandbox-api-key-file = File holding the API key (instead of the HONGBAO_API_KEY variable)
help-sandbox-workwx-secret-env = WeCom app secret of one app, read from an environment variable: AGENTID=ENVNAME (repeatable)
help-sandbox-balance-yuan = Starting balance in yuan (at most two decimals)
help-sandbox-seed = Seed of the fault generator
help-sandbox-cert-dir = Directory for ca.pem, ca.key, client.pem, client.key, client.p12 (reused if present). Default: a new directory under the system temp dir
help-sandbox-fault = A fault probability, KIND=P (repeatable), e.g. drop_after_commit=0.1
help-sandbox-fault-delay-ms = How long delay_after_commit holds a reply, in milliseconds
help-sandbox-receive-after-secs = Seconds after sending when a red packet is opened
help-sandbox-never-open = Nobody opens red packets: they are refunded after 24 h
help-sandbox-night-ban = Refuse red packets between 00:00 and 08:00 Beijing time (TIME_LIMITED)
help-sandbox-unlimited = Turn off every daily cap and rate limit (amount ranges still apply)
help-sandbox-failing-openid = Payments to this openid fail definitively (repeatable)
help-sandbox-per-minute = Red packets per rolling minute (default 1800, WeChat's quota); raise it for load tests, e.g. 6000
help-sandbox-transfer-per-second = Transfers per second (default 100, WeChat's quota)
help-send = Make one payout and print its outcome
help-send-kind = What to pay
help-value-kind-red-packet = Cash red packet (`sendredpack`)
help-value-kind-group-red-packet = Group ("fission") red packet (`sendgroupredpack`; offline since 2024-06-05)
help-value-kind-workwx-red-packet = WeCom enterprise red packet (`sendworkwxredpack`)
help-value-kind-pay-employee = WeCom pay to employee (`paywwsptrans2pocket`)
help-value-kind-transfer = Transfer to a user's change (`promotion/transfers`)
help-send-to = Recipient openid
help-send-amount = Amount in yuan, e.g. 1.00
help-send-bill = Bill number (generated when absent). Reuse it to retry the same payment
help-send-name = Real name: turns on FORCE_CHECK (transfers, pay to employee)
help-send-total-num = Group red packets: how many people can open a packet, sharer included (3–20; default 3 or the config's `total_num`). WeChat splits `--amount` (the TOTAL of the group) randomly over them, and the average per person must be 1–200 yuan: e.g. 3 packets need at least 3.00 yuan and at most 600.00
help-send-send-name = Sender name (red packets)
help-send-act-name = Activity / project name
help-send-wishing = Blessing (red packets)
help-send-remark = Remark (red packets)
help-send-sender-name = WeCom red packets: send in this person's name
help-send-agentid = WeCom: send in the name of this app id
help-send-desc = Description (transfers, pay to employee)
help-send-scene-id = scene_id (red packets below 1 or above 200 yuan), e.g. PRODUCT_4
help-send-json = Print the outcome as JSON (only JSON on stdout)
help-query = Ask WeChat for the status of a payout by bill number
help-query-kind = What kind of payout the bill number belongs to
help-query-bill = The bill number (mch_billno: up to 28, partner_trade_no: up to 32 ASCII letters and digits); checked before anything is sent
help-query-json = Print the outcome as JSON (only JSON on stdout)
help-sign = SIGN_ERROR debugger: read a request (XML or JSON object) on stdin, print the string to sign (key masked) and the signature, and diagnose a mismatch with the request's own sign: wrong algorithm, empty values or sign_type signed, trimmed values, unsorted fields (XML keeps the body order), the key appended without `&key=`, URL-encoded values (quote, quote_plus), text hashed as GBK. Without a key it still prints the string to sign (and exits 4)
help-sign-hmac = Use HMAC-SHA256 instead of MD5 for the main sign
help-sign-workwx = Compute the WeCom `workwx_sign` (with the WeCom app secret) instead
help-value-workwx-red-packet = `sendworkwxredpack`
help-value-workwx-pay-employee = `paywwsptrans2pocket`
help-sign-json = Print `{"{"}"string_to_sign":…,"sign":…{"}"}`
help-batch = Batch payouts from a CSV or .xlsx file, exactly once, with a journal
help-batch-run = Validate, plan and pay a CSV or .xlsx file; rerun the same command to resume
help-batch-run-file = The payout file: CSV (UTF-8, UTF-8 with BOM, or GB18030/GBK as Excel saves it on Chinese Windows) or an .xlsx workbook (first sheet)
help-batch-run-file-long =
    The payout file: CSV (UTF-8, UTF-8 with BOM, or GB18030/GBK as Excel saves it on Chinese Windows) or an .xlsx workbook (first sheet).

    Header: `openid,amount` plus optional `bill`, `name`, `send_name`, `act_name`, `wishing`, `remark`, `sender_name`, `agentid`, `desc`, `scene_id`, `total_num`. Chinese headers are accepted: 收款人openid, 用户openid (openid); 金额, 金额(元), 金额（元）, 红包金额, 付款金额 (amount); 单号, 商户订单号 (bill); 姓名, 真实姓名, 收款人姓名 (name); 商户名称 (send_name); 活动名称 (act_name); 祝福语 (wishing); 备注 (remark); 发送者名称 (sender_name); 付款说明, 付款备注 (desc); 场景id (scene_id); 红包个数 (total_num). Other columns are ignored (with one note); empty rows and a trailing comma are fine.
help-batch-run-kind = What to pay
help-batch-run-journal = The ledger (SQLite file): one per merchant and server, holding any number of batches; one process at a time (locked through `<journal>.lock`). Journals of older versions are migrated in place
help-batch-run-batch = The batch in the ledger (default: the file's stem). Rerunning an edited file into the same batch pays its new and fixed rows only
help-batch-run-dry-run = Validate and plan (bill numbers are written to the journal); send nothing
help-batch-run-skip-invalid = Pay the valid rows even if some rows are invalid (the invalid ones are reported, counted in the summary and left out; the exit code is then 1 at best)
help-batch-run-reissue-not-paid = Give rows that definitely failed (not_paid) a new bill number and pay them again
help-batch-run-resend-refunded = Pay red packets that came back unopened (refunded) again, under a new bill number
help-batch-run-concurrency = Requests in flight at once
help-batch-run-rate-per-minute = Override the config's rate limit (requests per minute; 0 = off)
help-batch-run-no-progress = No progress bar, even on a terminal
help-batch-run-json = Print the final summary as JSON (only JSON on stdout; with fields `dry_run`, `sandbox`, `interrupted`, `skipped_invalid_rows`)
help-batch-run-bind-server = For a journal written by an older hongbao, which did not record the server it paid through (such a journal is refused): record this run's server in it and go on. Only when you are sure it is that server
help-batch-run-yes = Confirm the plan without being asked (for scripts). Before sending, the run shows its plan (rows, total, largest amount, kind, duplicate payees) and, on a terminal, asks "pay N rows, X yuan? [y/N]"; without a terminal and without --yes it refuses (exit 4). Not needed with --dry-run or --sandbox (no money moves)
help-batch-run-max-amount = Refuse the file (exit 2, nothing sent) if a row to pay is over this amount in yuan (default: the config's `max_amount`, HONGBAO_MAX_AMOUNT)
help-batch-run-max-total = Refuse the run (exit 2, nothing sent) if the rows to pay total more than this in yuan (default: the config's `max_total`, HONGBAO_MAX_TOTAL)
help-batch-run-allow-duplicates = Pay a payee (openid) who appears more than once in the file. Without it such a file is refused (exit 2, nothing sent), unless a `key` column gives the rows distinct keys
help-batch-status = Print the journal's summary table
help-batch-status-journal = The ledger (SQLite file)
help-batch-status-batch = The batch (default: the ledger's only batch, else the whole ledger)
help-batch-status-json = JSON output (only JSON on stdout)
help-batch-reconcile = Query WeChat for every row that was sent (paid, not paid, sending, unknown, conflict), record the answers and report where WeChat disagrees with the journal; sends nothing. Exits 1 on a disagreement (3 while outcomes stay unknown)
help-batch-reconcile-journal = The ledger (SQLite file)
help-batch-reconcile-batch = The batch (default: the ledger's only batch, else the whole ledger)
help-batch-reconcile-json = JSON output (only JSON on stdout)
help-batch-reconcile-bind-server = For a journal written by an older hongbao, which did not record the server it paid through (such a journal is refused): record this run's server in it and go on. Only when you are sure it is that server
help-batch-report = Write the per-row report: CSV to stdout, `--json` to stdout, `--csv FILE` (for Excel: UTF-8 BOM, ids kept as text) and/or `--xlsx FILE`
help-batch-report-journal = The ledger (SQLite file)
help-batch-report-batch = The batch (default: the ledger's only batch, else the whole ledger)
help-batch-report-json = JSON output (only JSON on stdout)
help-batch-report-csv = Write the report as CSV for Excel to this file: UTF-8 with a BOM, bill numbers and WeChat ids written as ="…" so that Excel keeps every digit (stdout CSV stays plain, for scripts)
help-batch-report-xlsx = Write the report as an Excel workbook (.xlsx) to this file, ids as text
help-batch-refresh = Ask WeChat about sent red packets and record which were opened (received) or came back unopened (refunded), with their times
help-batch-refresh-journal = The ledger (SQLite file)
help-batch-refresh-batch = The batch (default: the ledger's only batch, else the whole ledger)
help-batch-refresh-json = JSON output (only JSON on stdout)
help-worker = Pay whatever is due in a PostgreSQL ledger, from any process, until stopped (SIGTERM or Ctrl-C: the requests in flight are recorded first). Run any number of them, on any number of machines: claims are fenced leases and the merchant's rate limit is shared
help-worker-journal = The ledger: `postgres://user@host:port/db` (libpq URL options such as `sslmode=require`, `sslrootcert=FILE`, `pool_size=N`). A SQLite file works too, but only one process may use it
help-worker-concurrency = Requests in flight at once in this process
help-worker-batch = Only this batch's payouts (default: every due payout of the ledger)
help-worker-rate-per-minute = The merchant's rate limit shared by every worker of the ledger (requests per minute; default: the config's `rate_per_minute`; 0 = off)
help-worker-lease-secs = How long a claim holds, in seconds: a payout claimed by a worker that died is taken over (query first) after this
help-worker-idle-ms = Pause between passes when nothing was due, in milliseconds
help-worker-reissue-not-paid = Give payouts that definitely failed (next step: a new bill) a new bill number and pay them again
help-worker-exit-when-idle = Stop after one pass when nothing is due (for scripts and tests)
help-completions = Print a shell completion script, e.g. `hongbao completions bash > /etc/bash_completion.d/hongbao`
help-completions-shell = The shell
help-man = Write the man pages (hongbao.1 and one per subcommand) into a directory (used by `cargo xtask man`)
help-man-out-dir = The directory to write the pages into (created if missing)
help-hongbao-verbose = More log output (-v: debug, -vv: trace). Logs go to stderr. At the default level a batch run warns once with a count per cause (e.g. "3 payout(s) unknown: SYSTEMERROR 2, …"); -v adds one line per row
help-hongbao-log-format = Format of the log lines on stderr (warnings, progress, errors): `text` for people (the default), or `json`: one JSON object per line (`ts` RFC 3339, `level`, `event`, `message`, `fields`) for log collectors. Standard output is unchanged
help-value-log-format-text = Human text (the default)
help-value-log-format-json = One JSON object per line: `ts` (RFC 3339), `level`, `event`, `message`, `fields`
help-batch-run-notify = POST the run's summary as JSON to this webhook when the run ends, in the shape of a WeCom group bot (`{"{"}"msgtype":"markdown",…{"}"}`: batch, paid, not paid, unknown, conflicts, skipped rows; marked SANDBOX for a sandbox run). Default: HONGBAO_NOTIFY_URL, else the config's `notify_url` (prefer those: a URL on the command line is visible to other users of the machine). A webhook failure is only a warning on stderr (the URL's query masked): it never changes the exit code
help-worker-notify = POST the summary (of `--batch`, else of the ledger) as JSON to this webhook when the worker stops, in the shape of a WeCom group bot (see `batch run --notify`). Default: HONGBAO_NOTIFY_URL, else the config's `notify_url`. A webhook failure is only a warning on stderr (the URL's query masked): it never changes the exit code
