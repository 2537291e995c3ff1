local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":h") .. "/helpers.lua")
H.run(function()
  local diff = "<<<<<<< SEARCH\n    1\n=======\n    100\n>>>>>>> REPLACE\n"
  local codelab = H.setup({
    { chunks = { { toolCall = { id = "d1", name = "apply_diff", arguments = { path = "lib.rs", diff = diff } } } } },
    { chunks = { { text = "Changed it." } } },
  }, { agent = "coder" })
  vim.fn.writefile({ "fn one() -> u32 {", "    1", "}" }, H.ws .. "/lib.rs")
  vim.cmd("edit " .. vim.fn.fnameescape(H.ws .. "/lib.rs"))
  local buf = vim.api.nvim_get_current_buf()
  local asked
  H.answer_select(function(items, opts)
    asked = opts.prompt
    return items[1] -- Approve
  end)
  codelab.send("make it 100")
  H.wait_chat("— end_turn")
  H.truthy(asked and asked:find("apply_diff", 1, true), "the approval prompt names the tool")
  H.truthy(asked:find("+    100", 1, true), "the prompt shows the diff")
  H.eq({ "fn one() -> u32 {", "    100", "}" }, vim.api.nvim_buf_get_lines(buf, 0, -1, false), "the buffer changed")
  H.truthy(vim.bo[buf].modified, "the edit is in the buffer, not saved behind the user's back")
  H.eq({ "fn one() -> u32 {", "    1", "}" }, vim.fn.readfile(H.ws .. "/lib.rs"), "the file on disk is untouched")
  vim.api.nvim_buf_call(buf, function() vim.cmd("silent undo") end)
  H.eq({ "fn one() -> u32 {", "    1", "}" }, vim.api.nvim_buf_get_lines(buf, 0, -1, false), "u undoes the edit")
end)
