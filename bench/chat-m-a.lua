-- wrk script: one non-streaming chat completion for model m-a per request (bench/churn.sh)
wrk.method = "POST"
wrk.body = '{"model":"m-a","messages":[{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":16}'
wrk.headers["Content-Type"] = "application/json"
