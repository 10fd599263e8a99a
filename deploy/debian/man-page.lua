-- pandoc filter for fleetrun-plan(5): a table becomes a list, one entry per
-- row (the first cell the term, the others "header: cell"), since wide
-- tables do not fit a terminal's man page; the document's title heading is
-- dropped (the page has its own NAME).
local stringify = pandoc.utils.stringify

function Table(table)
  local headers = {}
  for i, cell in ipairs(table.head.rows[1].cells) do
    headers[i] = stringify(cell.contents)
  end
  local items = {}
  for _, body in ipairs(table.bodies) do
    for _, row in ipairs(body.body) do
      local term = pandoc.utils.blocks_to_inlines(row.cells[1].contents)
      local details = {}
      for i = 2, #row.cells do
        local inlines = pandoc.utils.blocks_to_inlines(row.cells[i].contents)
        if #inlines > 0 then
          local line = pandoc.List({pandoc.Emph(headers[i] or ""), pandoc.Str(":"), pandoc.Space()})
          line:extend(inlines)
          details[#details + 1] = pandoc.Para(line)
        end
      end
      items[#items + 1] = {term, {details}}
    end
  end
  return pandoc.DefinitionList(items)
end

function Header(header)
  if header.level == 1 then return {} end
  header.level = header.level - 1
  return header
end
