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
