-- Helpers for the headless Neovim tests: a real mock LLM process, the real
-- codelab-agent binary, waits on events (vim.wait runs the event loop), and
-- assertions that fail the Neovim process.
local H = {}

H.bin = assert(os.getenv("CODELAB_BIN"), "CODELAB_BIN")
H.mock_bin = assert(os.getenv("MOCK_LLM_BIN"), "MOCK_LLM_BIN")

---Writes `replies` as a mock script and starts the mock; returns its base URL.
function H.start_mock(replies)
  local dir = vim.fn.tempname()
  vim.fn.mkdir(dir, "p")
  local script = dir .. "/script.json"
  vim.fn.writefile({ vim.json.encode({ replies = replies }) }, script)
  local url
  H.mock = vim.system({ H.mock_bin, "--script", script }, {
    stdout = function(_, data)
      if data and not url then url = data:match("listening on (http://%S+)") end
    end,
  })
  H.wait(function() return url ~= nil end, "the mock LLM to listen")
  return url
end

---A workspace folder and a data dir; configures the plugin to use them.
---The plugin starts `codelab-agent --stdio` as by default: a forwarder to
---the data dir's daemon, which the first one starts with this environment
---(the mock's address, a short idle exit) and `H.run` stops.
function H.setup(replies, opts)
  local url = H.start_mock(replies)
  H.ws = vim.fn.resolve(vim.fn.tempname())
  vim.fn.mkdir(H.ws, "p")
  vim.fn.mkdir(H.ws .. "/.git", "p")
  H.data = vim.fn.tempname()
  vim.env.OPENAI_BASE_URL = url .. "/v1"
  vim.env.OPENAI_API_KEY = "sk-test"
  vim.env.CODELAB_MODEL = "gpt-4o-mini"
  vim.env.CODELAB_DAEMON_IDLE_SECS = "30"
  vim.cmd("cd " .. vim.fn.fnameescape(H.ws))
  local codelab = require("codelab")
  codelab.setup(vim.tbl_extend("force", { cmd = { H.bin, "--stdio", "--data-dir", H.data } }, opts or {}))
  return codelab
end

---Waits until `cond()` is true, running the event loop; fails after `ms`.
function H.wait(cond, what, ms)
  if not vim.wait(ms or 15000, cond, 10) then
    error("timed out waiting for " .. what, 2)
  end
end

function H.chat()
  local st = require("codelab").state()
  if not st.chat then return "" end
  return table.concat(vim.api.nvim_buf_get_lines(st.chat, 0, -1, false), "\n")
end

---Waits until the chat shows `text`.
function H.wait_chat(text, ms)
  H.wait(function() return H.chat():find(text, 1, true) ~= nil end, "chat to contain " .. vim.inspect(text) .. "; chat:\n" .. H.chat(), ms)
end

function H.eq(expected, actual, what)
  if not vim.deep_equal(expected, actual) then
    error((what or "values differ") .. ": expected " .. vim.inspect(expected) .. ", got " .. vim.inspect(actual), 2)
  end
end

function H.truthy(v, what)
  if not v then error(what or "expected a true value", 2) end
end

---Answers vim.ui.select / vim.ui.input with scripted choices.
function H.answer_select(pick)
  vim.ui.select = function(items, opts, on_choice)
    local choice = pick(items, opts)
    vim.schedule(function() on_choice(choice) end)
  end
end

function H.answer_input(text)
  vim.ui.input = function(_, on_confirm)
    vim.schedule(function() on_confirm(text) end)
  end
end

---Runs `body`; exits Neovim with 0, or with 1 after printing the error.
function H.run(body)
  local ok, err = xpcall(body, debug.traceback)
  pcall(function() require("codelab").stop() end)
  if H.data then
    -- No daemon outlives its test: stop it and wait until it has exited.
    pcall(function() vim.system({ H.bin, "--data-dir", H.data, "daemon", "stop", "--force" }):wait(20000) end)
  end
  if H.mock then pcall(function() H.mock:kill(9) end) end
  if ok then
    io.stdout:write("PASS\n")
    vim.cmd("qa!")
  else
    io.stderr:write("FAIL: " .. tostring(err) .. "\n--- chat ---\n" .. H.chat() .. "\n")
    vim.cmd("cquit 1")
  end
end

return H
