---`:checkhealth codelab`
local M = {}

function M.check()
  local codelab = require("codelab")
  local h = vim.health
  h.start("codelab")
  local cmd = codelab.config.cmd
  local bin = cmd[1]
  if vim.fn.executable(bin) == 1 then
    h.ok("server binary: " .. vim.fn.exepath(bin))
    local out = vim.fn.system({ bin, "--version" })
    if vim.v.shell_error == 0 then
      h.ok("version: " .. vim.trim(out))
    else
      h.error("`" .. bin .. " --version` failed: " .. out)
    end
  else
    h.error("server binary not found: " .. bin, { "Build it with `cargo build --release` and set `cmd` in setup()" })
  end
  local st = codelab.state()
  local c = st.client_id and vim.lsp.get_client_by_id(st.client_id)
  if c then
    h.ok("connected (client " .. c.id .. ", root " .. st.root .. ", encoding " .. c.offset_encoding .. ")")
    local caps = c.server_capabilities and c.server_capabilities.experimental
    if caps and caps.codelab then h.ok("protocol " .. caps.codelab.protocolVersion) end
  else
    h.info("not connected: `:Codelab` starts the server")
  end
  local providers = {}
  for _, var in ipairs({ "OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL" }) do
    local v = vim.env[var]
    if v and v ~= "" then table.insert(providers, var) end
  end
  local settings = codelab.config.settings
  if #providers > 0 then
    h.ok("provider configured by " .. table.concat(providers, ", ") .. (vim.env.CODELAB_MODEL and (", model " .. vim.env.CODELAB_MODEL) or ""))
  elseif settings and settings.llm then
    h.ok("provider configured in setup({ settings = { llm = ... } })")
  else
    h.warn("no provider in the environment", { "Set OPENAI_API_KEY or ANTHROPIC_API_KEY, or [llm] in codelab.toml in the data directory" })
  end
end

return M
