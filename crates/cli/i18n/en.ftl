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
