-- wrk script: one small Anthropic Messages request (~90 B body) with the auth headers.
wrk.method = "POST"
wrk.body = '{"model":"claude-haiku-4-5","max_tokens":64,"messages":[{"role":"user","content":"hello, mock"}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-api-key"] = "bench"
wrk.headers["anthropic-version"] = "2023-06-01"
