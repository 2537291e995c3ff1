local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":h") .. "/helpers.lua")
H.run(function()
  local codelab = H.setup({
    { chunks = { { toolCall = { id = "w1", name = "write_file", arguments = { path = "NOTES.md", content = "# Notes\nshipped\n" } } } } },
    { chunks = { { toolCall = { id = "w2", name = "write_file", arguments = { path = "fresh.md", content = "fresh\n" } } } } },
    { chunks = { { toolCall = { id = "c1", name = "execute_command", arguments = { command = "cat NOTES.md fresh.md" } } } } },
    { chunks = { { text = "Wrote them." } } },
  }, { agent = "coder" })
  vim.fn.writefile({ "# Notes" }, H.ws .. "/NOTES.md")
  vim.cmd("edit " .. vim.fn.fnameescape(H.ws .. "/NOTES.md"))
  local buf = vim.api.nvim_get_current_buf()
  H.answer_select(function(items) return items[1] end)
  codelab.send("write the notes")
  H.wait_chat("— end_turn")
  -- The command after the writes saw both files as written.
  H.wait_chat("Exit code: 0\n# Notes\nshipped\nfresh\n")
  H.eq({ "# Notes", "shipped" }, vim.api.nvim_buf_get_lines(buf, 0, -1, false), "the buffer has the edit")
  H.truthy(not vim.bo[buf].modified, "the buffer is saved, not left modified")
  H.eq({ "# Notes", "shipped" }, vim.fn.readfile(H.ws .. "/NOTES.md"), "the disk has it")
  -- The file Neovim did not have open was written by the server: no buffer for it.
  H.eq({ "fresh" }, vim.fn.readfile(H.ws .. "/fresh.md"), "fresh.md is on disk")
  H.eq(-1, vim.fn.bufnr(H.ws .. "/fresh.md"), "and not in a hidden buffer")
end)
