"""What the tool packs share and do not offer as tools: the one HTTP door to outside sources
(``sources``), time arguments (``timeargs``), series summaries (``series``) and log
templating (``logtemplates``)."""
