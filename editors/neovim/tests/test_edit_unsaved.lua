local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":h") .. "/helpers.lua")
H.run(function()
  local codelab = H.setup({
    { chunks = { { toolCall = { id = "w1", name = "write_file", arguments = { path = "draft.md", content = "the agent's text\n" } } } } },
    { chunks = { { text = "Rewrote it." } } },
  }, { agent = "coder" })
  vim.fn.writefile({ "saved line" }, H.ws .. "/draft.md")
  vim.cmd("edit " .. vim.fn.fnameescape(H.ws .. "/draft.md"))
  local buf = vim.api.nvim_get_current_buf()
  -- The user's own change, not saved.
  vim.api.nvim_buf_set_lines(buf, 1, 1, false, { "my unsaved line" })
  H.truthy(vim.bo[buf].modified, "the user's change is unsaved")
  H.answer_select(function(items) return items[1] end)
  codelab.send("rewrite the draft")
  H.wait_chat("— end_turn")
  -- The model was told: the change is in the buffer, not on disk.
  H.wait_chat("draft.md had unsaved changes in the user's editor")
  H.wait_chat("NOT saved")
  H.eq({ "the agent's text" }, vim.api.nvim_buf_get_lines(buf, 0, -1, false), "the edit is in the buffer")
  H.truthy(vim.bo[buf].modified, "and not saved")
  H.eq({ "saved line" }, vim.fn.readfile(H.ws .. "/draft.md"), "the disk keeps what the user saved")
  -- Nothing of the user's is lost: one undo brings their unsaved text back.
  vim.api.nvim_buf_call(buf, function() vim.cmd("silent undo") end)
  H.eq({ "saved line", "my unsaved line" }, vim.api.nvim_buf_get_lines(buf, 0, -1, false), "u restores the user's text")
end)
