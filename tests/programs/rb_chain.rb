# Copyright 2026 The profiler agent authors
# SPDX-License-Identifier: Apache-2.0
# A known Ruby chain for the interpreter e2e test: a top-level method -> a class's methods -> a
# leaf with a hot loop, in the main thread and in a worker thread, for ARGV[0] seconds.

def leaf(n)
  total = 0
  i = 0
  while i < n # LEAF_LOOP
    total += i * i % 7 # LEAF_LOOP
    i += 1 # LEAF_LOOP
  end
  total
end

class Work
  def step(n)
    leaf(n)
  end

  def run(seconds)
    t_end = Time.now + seconds
    step(20_000) while Time.now < t_end
  end
end

def chain(seconds)
  Work.new.run(seconds)
end

seconds = ARGV[0].to_f
worker = Thread.new { chain(seconds) }
chain(seconds)
worker.join
