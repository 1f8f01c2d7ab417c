"""Key sources: each wraps and unwraps the file's data key (or a Shamir share of it) for one
kind of master key, behind one interface (:class:`base.MasterKey`)."""
