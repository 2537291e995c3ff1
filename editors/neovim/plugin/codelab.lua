if vim.g.loaded_codelab then return end
vim.g.loaded_codelab = true

local function codelab() return require("codelab") end

vim.api.nvim_create_user_command("Codelab", function(o)
  if o.args ~= "" then codelab().send(o.args) else codelab().open() end
end, { nargs = "*", desc = "Open the CodeLab chat (with text: send it)" })
vim.api.nvim_create_user_command("CodelabAgent", function(o) codelab().agent(o.args) end, {
  nargs = "?",
  complete = function() return codelab().agent_names() end,
  desc = "Switch the CodeLab agent",
})
vim.api.nvim_create_user_command("CodelabCancel", function() codelab().cancel() end, { desc = "Cancel the CodeLab turn" })
vim.api.nvim_create_user_command("CodelabSessions", function() codelab().sessions() end, { desc = "Resume or delete CodeLab sessions" })
vim.api.nvim_create_user_command("CodelabCompact", function() codelab().compact() end, { desc = "Compact the CodeLab session's context" })
vim.api.nvim_create_user_command("CodelabCheckpoints", function() codelab().checkpoints() end, { desc = "Restore files from a CodeLab checkpoint" })
vim.api.nvim_create_user_command("CodelabApprovals", function() codelab().approvals() end, { desc = "Pending CodeLab approvals" })
