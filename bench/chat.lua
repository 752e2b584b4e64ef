-- wrk script: one non-streaming chat completion per request
wrk.method = "POST"
wrk.body = '{"model":"bench","messages":[{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":16,"top_k":5}'
wrk.headers["Content-Type"] = "application/json"
