"""Evidence files (佐证材料): where their bytes live, what a file may be, who adds and removes them."""
