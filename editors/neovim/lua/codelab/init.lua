---@mod codelab CodeLab agent for Neovim
---Chat, agents and approvals, through Neovim's own LSP client talking to
---`codelab-agent --stdio`. An agent's edit to a file open in a buffer arrives
---as `workspace/applyEdit` holding only the changed ranges (normal undo, marks
---stay put), and the server then asks to save it (`codelab/saveDocuments`) so
---the file on disk has it before the agent's next command. A buffer with
---unsaved changes of your own gets the edit on top and is not saved.

local M = {}

---@class CodelabKeymaps
---@field send string|false   key (normal mode, input buffer) that sends the message
---@field cancel string|false key (chat and input buffers) that cancels the turn

---@class CodelabOptions
---@field cmd string[]           command that starts the server (stdio)
---@field agent string           agent of new sessions
---@field keymaps CodelabKeymaps
---@field root_markers string[]  files that mark a workspace root
---@field settings table|nil     sent as initializationOptions (e.g. { llm = { model = "..." } })

---@type CodelabOptions
M.config = {
  cmd = { "codelab-agent", "--stdio" },
  agent = "orchestrator",
  keymaps = { send = "<CR>", cancel = "<C-c>" },
  root_markers = { ".git", ".codelab", "Cargo.toml", "package.json" },
  settings = nil,
}

---@class CodelabState
---@field client_id integer|nil
---@field root string
---@field session string|nil
---@field agent string|nil
---@field chat integer|nil       chat buffer
---@field input integer|nil      input buffer
---@field win integer|nil        chat window
---@field turn string|nil        running turn
---@field streaming boolean      an assistant block is open in the chat
---@field seen table<integer, boolean> seqs already rendered
---@field ready boolean          the server answered initialize
---@field queue function[]       requests waiting for initialize
---@field agents string[]|nil    agent slugs, for completion
---@field diffs table<string, fun()> open approval diffs, by approval id: each closes its tab

---@type table<string, CodelabState>
local states = {}

local function notify(msg, level)
  vim.notify("codelab: " .. msg, level or vim.log.levels.INFO)
end

---@return string
local function root_dir()
  local found = vim.fs.root(0, M.config.root_markers)
  return found or vim.fn.getcwd()
end

---@return CodelabState
local function state()
  local root = root_dir()
  states[root] = states[root] or { root = root, streaming = false, seen = {}, ready = false, queue = {}, diffs = {} }
  return states[root]
end

---@param st CodelabState
---@return vim.lsp.Client|nil
local function client(st)
  return st.client_id and vim.lsp.get_client_by_id(st.client_id) or nil
end

---Appends text to the chat buffer (text may hold newlines).
---@param st CodelabState
---@param text string
local function append(st, text)
  local buf = st.chat
  if not buf or not vim.api.nvim_buf_is_valid(buf) then return end
  vim.bo[buf].modifiable = true
  local last = vim.api.nvim_buf_line_count(buf)
  local tail = vim.api.nvim_buf_get_lines(buf, last - 1, last, false)[1] or ""
  local lines = vim.split(tail .. text, "\n", { plain = true })
  vim.api.nvim_buf_set_lines(buf, last - 1, last, false, lines)
  vim.bo[buf].modifiable = false
  if st.win and vim.api.nvim_win_is_valid(st.win) then
    vim.api.nvim_win_set_cursor(st.win, { vim.api.nvim_buf_line_count(buf), 0 })
  end
end

---@param st CodelabState
local function new_block(st, header)
  st.streaming = false
  append(st, "\n\n" .. header .. "\n")
end

---Tokens as a short figure: 950, 12.3k, 128k.
---@param n number
---@return string
local function short(n)
  if n < 1000 then return tostring(n) end
  if n < 100000 then return string.format("%.1fk", n / 1000) end
  return string.format("%dk", math.floor(n / 1000 + 0.5))
end

---The context used and the session's cost, as the winbar shows them.
---@param st CodelabState
---@return string
function M.usage_text(st)
  local u = st.usage
  if not u then return "" end
  local pct = u.window > 0 and math.floor(100 * u.used / u.window + 0.5) or 0
  return string.format("ctx %s/%s (%d%%)  $%.4f", short(u.used), short(u.window), pct, u.cost)
end

---@param st CodelabState
local function update_title(st)
  if st.win and vim.api.nvim_win_is_valid(st.win) then
    local usage = M.usage_text(st)
    vim.wo[st.win].winbar = "CodeLab — " .. (st.agent or "?") .. (st.turn and "  (working…)" or "")
      -- `%` starts an item in a winbar: a literal one is `%%`.
      .. (usage ~= "" and ("  " .. usage:gsub("%%", "%%%%")) or "")
  end
end

---Sends a request and calls `cb(result)`, or notifies the error.
---@param st CodelabState
---@param method string
---@param params table
---@param cb fun(result: any)|nil
local request
request = function(st, method, params, cb)
  local c = client(st)
  if not c then
    notify("not connected", vim.log.levels.ERROR)
    return
  end
  if not st.ready then
    -- The server refuses requests before initialize: hold them until on_init.
    table.insert(st.queue, function() request(st, method, params, cb) end)
    return
  end
  c:request(method, params, function(err, result)
    if err then
      notify(method .. ": " .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
      return
    end
    if cb then cb(result) end
  end)
end

---Finds the state a session belongs to.
---@param session string
---@return CodelabState|nil
local function by_session(session)
  for _, st in pairs(states) do
    if st.session == session then return st end
  end
end

---Renders a persisted message (replay on resume).
---@param st CodelabState
---@param m table
local function render_message(st, m)
  if m.role == "user" then
    new_block(st, "## You")
    append(st, m.text)
  elseif m.role == "assistant" then
    if m.text ~= "" then
      new_block(st, "## " .. (st.agent or "Assistant"))
      append(st, m.text)
    end
  elseif m.role == "tool" then
    append(st, "\n> result of " .. (m.toolCallId or "?") .. (m.isError and " (failed)" or "") .. " {{{\n" .. m.text .. "\n> }}}")
  end
end

local function pretty(value)
  local ok, s = pcall(vim.json.encode, value)
  return ok and s or vim.inspect(value)
end

---@param st CodelabState
---@param approval table
local function decide(st, approval, decision, extra)
  local params = vim.tbl_extend("force", { approvalId = approval.id, decision = decision }, extra or {})
  request(st, "codelab/decideApproval", params)
end

---Opens the approval's parameters as JSON; writing the buffer sends them.
---@param st CodelabState
---@param approval table
local function edit_approval(st, approval)
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(buf, "codelab://approval/" .. approval.id .. ".json")
  vim.bo[buf].buftype = "acwrite"
  vim.bo[buf].filetype = "json"
  local text = vim.json.encode(approval.params)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, vim.split(text, "\n", { plain = true }))
  vim.api.nvim_create_autocmd("BufWriteCmd", {
    buffer = buf,
    callback = function()
      local body = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n")
      local ok, params = pcall(vim.json.decode, body)
      if not ok then
        notify("invalid JSON: " .. tostring(params), vim.log.levels.ERROR)
        return
      end
      vim.bo[buf].modified = false
      decide(st, approval, "edit", { params = params })
    end,
  })
  vim.cmd("split")
  vim.api.nvim_win_set_buf(0, buf)
  return buf
end

---A read-only scratch buffer holding `text`.
---@param name string
---@param text string
---@param ft string|nil
---@return integer
local function scratch(name, text, ft)
  local buf = vim.api.nvim_create_buf(false, true)
  pcall(vim.api.nvim_buf_set_name, buf, name)
  local lines = vim.split(text, "\n", { plain = true })
  if #lines > 1 and lines[#lines] == "" then table.remove(lines) end
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  vim.bo[buf].bufhidden = "wipe"
  if ft then vim.bo[buf].filetype = ft end
  return buf
end

---Shows each file of an approval in a tab of its own, what it holds now
---against what the call proposes, in diff mode. Returns what closes them
---(and goes back to the tab the user was in).
---@param approval table
---@return fun()
local function show_diff(approval)
  local files = approval.files or {}
  if #files == 0 then return function() end end
  local back = vim.api.nvim_get_current_tabpage()
  local tabs = {}
  for _, f in ipairs(files) do
    local ft = vim.filetype.match({ filename = f.path })
    vim.cmd("tabnew")
    table.insert(tabs, vim.api.nvim_get_current_tabpage())
    local placeholder = vim.api.nvim_get_current_buf()
    local prefix = "codelab://approval/" .. approval.id .. "/"
    vim.api.nvim_win_set_buf(0, scratch(prefix .. "current/" .. f.path, f.current, ft))
    if vim.api.nvim_buf_is_valid(placeholder) then pcall(vim.api.nvim_buf_delete, placeholder, { force = true }) end
    vim.cmd("diffthis")
    vim.cmd("rightbelow vsplit")
    vim.api.nvim_win_set_buf(0, scratch(prefix .. "proposed/" .. f.path, f.proposed, ft))
    vim.cmd("diffthis")
    vim.wo.winbar = "proposed: " .. f.path
    vim.cmd("wincmd p")
    vim.wo.winbar = "current: " .. f.path
  end
  return function()
    for _, tab in ipairs(tabs) do
      if vim.api.nvim_tabpage_is_valid(tab) and #vim.api.nvim_list_tabpages() > 1 then
        pcall(vim.cmd, "tabclose " .. vim.api.nvim_tabpage_get_number(tab))
      end
    end
    if vim.api.nvim_tabpage_is_valid(back) then vim.api.nvim_set_current_tabpage(back) end
  end
end

---Closes the diff of an approval, if it is open.
---@param st CodelabState
---@param id string
local function close_diff(st, id)
  local close = st.diffs[id]
  st.diffs[id] = nil
  if close then close() end
end

---Asks the user about an approval; an edit's files are shown as diffs
---(current against proposed) until it is decided.
---@param st CodelabState
---@param approval table
function M.prompt_approval(st, approval)
  local paths = vim.tbl_map(function(f) return f.path end, approval.files or {})
  local what = #paths > 0 and table.concat(paths, ", ") or pretty(approval.params)
  append(st, "\n> approval needed: " .. approval.tool .. " " .. what .. " (" .. approval.rule .. ") {{{\n" .. (approval.diff or pretty(approval.params)) .. "\n> }}}")
  close_diff(st, approval.id)
  st.diffs[approval.id] = show_diff(approval)
  local prompt = "CodeLab: " .. approval.tool .. " " .. what
  if #paths > 0 then prompt = prompt .. " (the diff is in the new tab)" end
  local choices = { "Approve", "Approve for this session", "Edit parameters", "Reject" }
  vim.ui.select(choices, { prompt = prompt }, function(choice)
    close_diff(st, approval.id)
    if choice == "Approve" then
      decide(st, approval, "approve")
    elseif choice == "Approve for this session" then
      decide(st, approval, "approve", { scope = "session" })
    elseif choice == "Edit parameters" then
      edit_approval(st, approval)
    elseif choice == "Reject" then
      vim.ui.input({ prompt = "Feedback for the agent (optional): " }, function(feedback)
        decide(st, approval, "reject", { feedback = feedback })
      end)
    end
  end)
end

---Saves the buffers of `uris`, as `:write` does (autocmds run, didSave is
---sent); the answer to `codelab/saveDocuments`.
---@param params { uris: string[] }
---@return { saved: string[], failed: { uri: string, reason: string }[]|nil }
function M.save_documents(params)
  local saved, failed = {}, {}
  for _, uri in ipairs(params.uris or {}) do
    local buf
    for _, b in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(b) and vim.uri_from_bufnr(b) == uri then buf = b end
    end
    if not buf then
      table.insert(failed, { uri = uri, reason = "not open in Neovim" })
    else
      local ok, err = pcall(vim.api.nvim_buf_call, buf, function() vim.cmd("silent keepalt write") end)
      if ok and not vim.bo[buf].modified then
        table.insert(saved, uri)
      else
        table.insert(failed, { uri = uri, reason = ok and "still modified after :write" or tostring(err) })
      end
    end
  end
  local result = { saved = saved }
  if #failed > 0 then result.failed = failed end
  return result
end

---@param st CodelabState
---@param q table
local function prompt_question(st, q)
  append(st, "\n> question: " .. q.question)
  local answer = function(text)
    if text and text ~= "" then
      request(st, "codelab/answerQuestion", { sessionId = q.sessionId, questionId = q.questionId, answer = text })
    end
  end
  if q.suggestions and #q.suggestions > 0 then
    local choices = vim.list_extend(vim.deepcopy(q.suggestions), { "Other…" })
    vim.ui.select(choices, { prompt = "CodeLab asks: " .. q.question }, function(choice)
      if choice == "Other…" then
        vim.ui.input({ prompt = q.question .. " " }, answer)
      else
        answer(choice)
      end
    end)
  else
    vim.ui.input({ prompt = "CodeLab asks: " .. q.question .. " " }, answer)
  end
end

---Notification handlers: every one checks the seq, so replays render once.
local function seen(st, params)
  if params.seq and st.seen[params.seq] then return true end
  if params.seq then st.seen[params.seq] = true end
  return false
end

M.handlers = {
  ["codelab/message"] = function(_, p)
    local st = by_session(p.sessionId)
    if not st or seen(st, p) then return end
    local m = p.message
    if m.role == "assistant" then
      if not st.streaming and m.text ~= "" then
        new_block(st, "## " .. (st.agent or "Assistant"))
        append(st, m.text)
      end
      st.streaming = false
    else
      render_message(st, m)
    end
  end,
  ["codelab/token"] = function(_, p)
    local st = by_session(p.sessionId)
    if not st or seen(st, p) then return end
    if not st.streaming then
      new_block(st, "## " .. (st.agent or "Assistant"))
      st.streaming = true
    end
    append(st, p.delta)
  end,
  ["codelab/toolCall"] = function(_, p)
    local st = by_session(p.sessionId)
    if not st or seen(st, p) then return end
    st.streaming = false
    if p.status == "pending" then
      append(st, "\n\n▸ " .. p.name .. " " .. pretty(p.params))
    elseif p.status == "completed" or p.status == "failed" then
      local mark = p.status == "completed" and "✓" or "✗"
      append(st, "\n" .. mark .. " " .. p.name .. " " .. p.status .. " {{{\n" .. (p.result or "") .. "\n}}}")
    end
  end,
  ["codelab/commandOutput"] = function() end,
  ["codelab/turnCompleted"] = function(_, p)
    local st = by_session(p.sessionId)
    if not st or seen(st, p) then return end
    st.turn = nil
    st.streaming = false
    local line = "\n\n— " .. p.stopReason
    if p.result and p.result ~= "" then line = line .. ": " .. p.result end
    if p.error then line = line .. " (" .. p.error .. ")" end
    append(st, line)
    update_title(st)
  end,
  ["codelab/contextUsage"] = function(_, p)
    local st = by_session(p.sessionId)
    if not st or seen(st, p) then return end
    st.usage = { used = p.usedTokens, window = p.contextWindow, cost = p.sessionCostUsd }
    update_title(st)
  end,
  ["codelab/contextCompacted"] = function(_, p)
    local st = by_session(p.sessionId)
    if not st or seen(st, p) then return end
    local c = p.compaction
    append(st, string.format("\n\n⋯ context compacted (%s): %s → %s tokens",
      p.summarized and "summarised" or "tool outputs elided", short(c.tokensBefore), short(c.tokensAfter)))
  end,
  ["codelab/turnDiff"] = function(_, p)
    local st = by_session(p.sessionId)
    if not st or seen(st, p) then return end
    local parts = {}
    for _, f in ipairs(p.files) do
      table.insert(parts, string.format("%s %s +%d -%d", f.status, f.path, f.added, f.removed))
    end
    st.last_diff = p.diff
    append(st, "\n\nΔ " .. table.concat(parts, ", "))
  end,
  ["codelab/agentSwitched"] = function(_, p)
    local st = by_session(p.sessionId)
    if not st or seen(st, p) then return end
    st.agent = p.to
    append(st, "\n\n→ switched to " .. p.to .. " (" .. p.reason .. ")")
    update_title(st)
  end,
  ["codelab/question"] = function(_, p)
    local st = by_session(p.sessionId)
    if not st or seen(st, p) then return end
    prompt_question(st, p)
  end,
  ["codelab/approvalRequired"] = function(_, p)
    local st = by_session(p.sessionId)
    if not st or seen(st, p) then return end
    M.prompt_approval(st, p.approval)
  end,
  ["codelab/approvalResolved"] = function(_, p)
    local st = by_session(p.sessionId)
    if not st or seen(st, p) then return end
    -- Decided elsewhere (another editor, a timeout): the diff goes away too.
    close_diff(st, p.approvalId)
    append(st, "\n> approval " .. p.decision .. " by " .. p.by)
  end,
  -- A request: the server waits for the answer.
  ["codelab/saveDocuments"] = function(_, params)
    return M.save_documents(params)
  end,
}

---Starts (or reuses) the server for the current workspace root.
---@return CodelabState
function M.connect()
  local st = state()
  if client(st) then return st end
  local handlers = {}
  for method, fn in pairs(M.handlers) do handlers[method] = fn end
  st.client_id = vim.lsp.start({
    name = "codelab",
    cmd = M.config.cmd,
    root_dir = st.root,
    workspace_folders = { { uri = vim.uri_from_fname(st.root), name = vim.fs.basename(st.root) } },
    init_options = M.config.settings,
    -- Saving on request lets an agent's edit reach the disk before its next command.
    capabilities = vim.tbl_deep_extend("force", vim.lsp.protocol.make_client_capabilities(), {
      experimental = { codelab = { saveDocuments = true, contextUsage = true, turnDiff = true } },
    }),
    handlers = handlers,
    on_init = function()
      st.ready = true
      local queued = st.queue
      st.queue = {}
      for _, fn in ipairs(queued) do fn() end
      -- Agent names for completion, fetched once so completing never blocks.
      request(st, "codelab/listAgents", vim.empty_dict(), function(r)
        st.agents = vim.tbl_map(function(a) return a.slug end, r.agents)
      end)
    end,
    on_exit = function(_, _, client_id)
      -- A client replaced by a newer one (a reconnect) must not clear the
      -- newer one's state when it finally exits.
      if st.client_id ~= nil and client_id ~= nil and st.client_id ~= client_id then
        return
      end
      st.ready = false
      st.client_id = nil
    end,
  }, { attach = false, reuse_client = function(c, conf)
    return c.name == "codelab" and c.config.root_dir == conf.root_dir and not c:is_stopped()
  end })
  -- Buffers of the workspace are attached, so the agent reads their unsaved text.
  local function attach(buf)
    local name = vim.api.nvim_buf_get_name(buf)
    if st.client_id and vim.bo[buf].buftype == "" and name ~= "" and vim.startswith(vim.fs.normalize(name), st.root) then
      vim.lsp.buf_attach_client(buf, st.client_id)
    end
  end
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) then attach(buf) end
  end
  vim.api.nvim_create_autocmd({ "BufReadPost", "BufNewFile" }, {
    group = vim.api.nvim_create_augroup("codelab_attach_" .. st.root, { clear = true }),
    callback = function(ev) attach(ev.buf) end,
  })
  return st
end

---@param st CodelabState
local function ensure_windows(st)
  if not st.chat or not vim.api.nvim_buf_is_valid(st.chat) then
    st.chat = vim.api.nvim_create_buf(false, true)
    vim.bo[st.chat].filetype = "markdown"
    vim.bo[st.chat].modifiable = false
    pcall(vim.api.nvim_buf_set_name, st.chat, "codelab://chat/" .. st.root)
  end
  if not st.input or not vim.api.nvim_buf_is_valid(st.input) then
    st.input = vim.api.nvim_create_buf(false, true)
    pcall(vim.api.nvim_buf_set_name, st.input, "codelab://input/" .. st.root)
    local km = M.config.keymaps
    if km.send then
      vim.keymap.set("n", km.send, function() M.send_input() end, { buffer = st.input, desc = "CodeLab: send" })
    end
    if km.cancel then
      for _, b in ipairs({ st.input, st.chat }) do
        vim.keymap.set({ "n", "i" }, km.cancel, function() M.cancel() end, { buffer = b, desc = "CodeLab: cancel" })
      end
    end
  end
  if not st.win or not vim.api.nvim_win_is_valid(st.win) then
    vim.cmd("botright vsplit")
    st.win = vim.api.nvim_get_current_win()
    vim.api.nvim_win_set_buf(st.win, st.chat)
    vim.wo[st.win].foldmethod = "marker"
    vim.wo[st.win].wrap = true
    vim.cmd("belowright 5split")
    vim.api.nvim_win_set_buf(0, st.input)
  end
  update_title(st)
end

---Opens the chat, creating a session if there is none.
---@param cb fun(st: CodelabState)|nil
function M.open(cb)
  local st = M.connect()
  ensure_windows(st)
  if st.session then
    if cb then cb(st) end
    return st
  end
  request(st, "codelab/createSession", { agent = M.config.agent }, function(s)
    st.session = s.id
    st.agent = s.agent
    update_title(st)
    request(st, "codelab/attachSession", { sessionId = s.id }, function()
      if cb then cb(st) end
    end)
  end)
  return st
end

---Sends a message to the session.
---@param text string
function M.send(text)
  M.open(function(st)
    local ctx = { openFiles = {}, diagnostics = {} }
    for _, b in ipairs(vim.api.nvim_list_bufs()) do
      local name = vim.api.nvim_buf_get_name(b)
      if vim.bo[b].buflisted and name ~= "" and not name:match("^codelab://") then
        table.insert(ctx.openFiles, vim.fn.fnamemodify(name, ":."))
      end
    end
    request(st, "codelab/sendMessage", { sessionId = st.session, text = text, context = ctx }, function(r)
      st.turn = r.turnId
      update_title(st)
    end)
  end)
end

---Sends the input buffer's text and clears it.
function M.send_input()
  local st = state()
  if not st.input then return end
  local text = table.concat(vim.api.nvim_buf_get_lines(st.input, 0, -1, false), "\n")
  if vim.trim(text) == "" then return end
  vim.api.nvim_buf_set_lines(st.input, 0, -1, false, {})
  M.send(text)
end

---Cancels the running turn.
function M.cancel()
  local st = state()
  if st.session then request(st, "codelab/cancelTurn", { sessionId = st.session }) end
end

---Switches the agent; without a name, asks with vim.ui.select.
---@param name string|nil
function M.agent(name)
  local st = M.open()
  local switch = function(slug)
    if not slug then return end
    request(st, "codelab/switchAgent", { sessionId = st.session, agent = slug })
  end
  if name and name ~= "" then
    return M.open(function() switch(name) end)
  end
  request(st, "codelab/listAgents", vim.empty_dict(), function(r)
    local slugs = vim.tbl_map(function(a) return a.slug end, r.agents)
    vim.ui.select(slugs, { prompt = "CodeLab agent" }, switch)
  end)
end

---Agent slugs for command completion, as the server listed them (the
---built-in ones until it has answered). Never blocks.
---@return string[]
function M.agent_names()
  return state().agents or { "orchestrator", "coder", "architect", "debug", "ask" }
end

---Resumes a session: attaches and replays its history into the chat.
---@param id string
---@param cb fun(st: CodelabState)|nil
function M.resume(id, cb)
  local st = M.connect()
  ensure_windows(st)
  st.session = id
  st.seen = {}
  vim.bo[st.chat].modifiable = true
  vim.api.nvim_buf_set_lines(st.chat, 0, -1, false, {})
  vim.bo[st.chat].modifiable = false
  request(st, "codelab/attachSession", { sessionId = id }, function(r)
    st.agent = r.session.agent
    for _, m in ipairs(r.messages) do
      st.seen[m.seq] = true
      render_message(st, m)
    end
    st.turn = r.runningTurnId
    update_title(st)
    for _, a in ipairs(r.pendingApprovals or {}) do M.prompt_approval(st, a) end
    for _, q in ipairs(r.pendingQuestions or {}) do prompt_question(st, q) end
    if cb then cb(st) end
  end)
end

---Lists sessions: resume or delete one.
function M.sessions()
  local st = M.connect()
  request(st, "codelab/listSessions", { limit = 50 }, function(r)
    local items = r.sessions
    vim.ui.select(items, {
      prompt = "CodeLab sessions",
      format_item = function(s) return s.title .. "  [" .. s.agent .. ", " .. s.messageCount .. " messages]" end,
    }, function(s)
      if not s then return end
      vim.ui.select({ "Resume", "Delete" }, { prompt = s.title }, function(action)
        if action == "Resume" then
          M.resume(s.id)
        elseif action == "Delete" then
          request(st, "codelab/deleteSession", { sessionId = s.id }, function()
            if st.session == s.id then st.session = nil end
            notify("deleted " .. s.title)
          end)
        end
      end)
    end)
  end)
end

---Lists pending approvals and prompts for each.
function M.approvals()
  local st = M.connect()
  request(st, "codelab/listPendingApprovals", st.session and { sessionId = st.session } or vim.empty_dict(), function(r)
    if #r.approvals == 0 then
      notify("no pending approvals")
      return
    end
    for _, a in ipairs(r.approvals) do M.prompt_approval(st, a) end
  end)
end

---Compacts the session's context now.
function M.compact()
  local st = M.connect()
  if not st.session then
    notify("no session", vim.log.levels.WARN)
    return
  end
  request(st, "codelab/compactSession", { sessionId = st.session }, function(r)
    if r.compaction == vim.NIL or not r.compaction then
      notify("nothing to compact")
    else
      notify(string.format("compacted: %s → %s tokens", short(r.compaction.tokensBefore), short(r.compaction.tokensAfter)))
    end
  end)
end

---Restores the files as they were before `turn`; asks about conflicts.
---@param st CodelabState
---@param turn string
---@param overwrite boolean
---@param cb fun(result: table)|nil
local function restore(st, turn, overwrite, cb)
  request(st, "codelab/restoreCheckpoint", { sessionId = st.session, turnId = turn, overwrite = overwrite }, function(r)
    if #r.restored > 0 then notify("restored " .. table.concat(r.restored, ", ")) end
    if #r.conflicts == 0 or overwrite then
      if cb then cb(r) end
      return
    end
    vim.ui.select({ "Keep my changes", "Overwrite them" }, {
      prompt = "Changed since the agent's edit: " .. table.concat(r.conflicts, ", "),
    }, function(choice)
      if choice == "Overwrite them" then
        restore(st, turn, true, cb)
      elseif cb then
        cb(r)
      end
    end)
  end)
end

---Lists the session's checkpoints; restores the files to before the chosen turn.
---@param cb fun(result: table)|nil called after a restore
function M.checkpoints(cb)
  local st = M.connect()
  if not st.session then
    notify("no session", vim.log.levels.WARN)
    return
  end
  request(st, "codelab/listCheckpoints", { sessionId = st.session }, function(r)
    if #r.turns == 0 then
      notify("no checkpoints: the agent changed no file")
      return
    end
    vim.ui.select(r.turns, {
      prompt = "Restore the files as they were before",
      format_item = function(t)
        local files = {}
        for _, f in ipairs(t.files) do
          table.insert(files, string.format("%s +%d -%d", f.path, f.added, f.removed))
        end
        return "turn " .. t.turnId:sub(-8) .. ": " .. table.concat(files, ", ")
      end,
    }, function(t)
      if t then restore(st, t.turnId, false, cb) end
    end)
  end)
end

---Stops the server of the current root.
function M.stop()
  local st = state()
  local c = client(st)
  if c then c:stop() end
  st.client_id = nil
  st.ready = false
end

---The current state (for tests and statuslines).
---@return CodelabState
function M.state()
  return state()
end

---@param opts CodelabOptions|nil
function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", M.config, opts or {})
end

return M
