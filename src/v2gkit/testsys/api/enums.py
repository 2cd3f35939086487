def enum_tables(family): raise NotImplementedError
