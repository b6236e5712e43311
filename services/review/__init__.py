"""Review: the rule pack checks every issued prescription; pharmacists decide what it flags."""
