local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":h") .. "/helpers.lua")
H.run(function()
  -- The change adds a line, so what is below it moves down by one.
  local diff = "<<<<<<< SEARCH\n    1\n=======\n    let x = 1;\n    x\n>>>>>>> REPLACE\n"
  local codelab = H.setup({
    { chunks = { { toolCall = { id = "d1", name = "apply_diff", arguments = { path = "lib.rs", diff = diff } } } } },
    { chunks = { { toolCall = { id = "c1", name = "execute_command", arguments = { command = "grep -n 'let x' lib.rs" } } } } },
    { chunks = { { text = "Changed it." } } },
  }, { agent = "coder" })
  local lines = { "fn one() -> u32 {", "    1", "}" }
  for i = 1, 300 do table.insert(lines, "// line " .. i) end
  vim.fn.writefile(lines, H.ws .. "/lib.rs")
  vim.cmd("edit " .. vim.fn.fnameescape(H.ws .. "/lib.rs"))
  local buf = vim.api.nvim_get_current_buf()
  -- A mark and an extmark (what signs and breakpoints are) far below the change.
  vim.api.nvim_buf_set_mark(buf, "a", 200, 0, {})
  local ns = vim.api.nvim_create_namespace("codelab_test")
  local ext = vim.api.nvim_buf_set_extmark(buf, ns, 249, 3, {})
  local prompts, sides, tabs_while_asked = {}, nil, nil
  H.answer_select(function(items, opts)
    table.insert(prompts, opts.prompt)
    if opts.prompt:find("apply_diff", 1, true) then
      tabs_while_asked = #vim.api.nvim_list_tabpages()
      sides = {}
      for _, w in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
        if vim.wo[w].diff then
          table.insert(sides, vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(w), 0, 4, false))
        end
      end
    end
    return items[1] -- Approve
  end)
  codelab.send("make it a binding")
  H.wait_chat("— end_turn")
  H.truthy(prompts[1]:find("apply_diff lib.rs", 1, true), "the approval prompt names the tool and the file: " .. prompts[1])
  H.truthy(not prompts[1]:find("let x", 1, true), "the prompt does not print the diff: " .. prompts[1])
  -- While it asked, a tab showed the file as it is against the proposal, in diff mode.
  H.eq(2, tabs_while_asked, "the diff opened in a tab of its own")
  H.eq({
    { "fn one() -> u32 {", "    1", "}", "// line 1" },
    { "fn one() -> u32 {", "    let x = 1;", "    x", "}" },
  }, sides, "current and proposed, side by side")
  -- Decided: the diff is gone.
  H.eq(1, #vim.api.nvim_list_tabpages(), "the diff tab closed")
  for _, w in ipairs(vim.api.nvim_list_wins()) do
    H.truthy(not vim.wo[w].diff, "no window is left in diff mode")
  end
  -- The edit is in the buffer, saved, and the command run after it saw it on disk.
  H.eq({ "fn one() -> u32 {", "    let x = 1;", "    x", "}" }, vim.api.nvim_buf_get_lines(buf, 0, 4, false), "the buffer changed")
  H.truthy(not vim.bo[buf].modified, "the buffer is saved")
  H.eq(vim.api.nvim_buf_get_lines(buf, 0, -1, false), vim.fn.readfile(H.ws .. "/lib.rs"), "the disk has the edit")
  H.wait_chat("Exit code: 0\n2:    let x = 1;")
  -- Only the changed lines moved: the marks below stayed on their text.
  local mark = vim.api.nvim_buf_get_mark(buf, "a")
  H.eq("// line 197", vim.api.nvim_buf_get_lines(buf, mark[1] - 1, mark[1], false)[1], "mark a stays on its line")
  local pos = vim.api.nvim_buf_get_extmark_by_id(buf, ns, ext, {})
  H.eq({ 250, 3 }, pos, "the extmark moved down with its line")
  H.eq("// line 247", vim.api.nvim_buf_get_lines(buf, pos[1], pos[1] + 1, false)[1], "the extmark's line")
  -- One undo step takes the agent's edit back.
  vim.api.nvim_buf_call(buf, function() vim.cmd("silent undo") end)
  H.eq({ "fn one() -> u32 {", "    1", "}" }, vim.api.nvim_buf_get_lines(buf, 0, 3, false), "u undoes the edit")
end)
