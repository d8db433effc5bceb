Feature: The default account
  An organization has at most one default account, and an account made the
  default takes the place of the former one (inferred from the DPaaS API
  reference, which calls it "the default account for new users"). These
  scenarios change the organization's default: each records it first and puts it
  back at the end, and they run alone.

  Background:
    Given the admin user is logged in
    And the organization's default account is recorded

  @must @ACC-2 @ACC-18 @ACC-19
  Scenario: An account created with "is_default" true becomes the only default
    When they create an account with a new name and "is_default" set to true
    Then the response status is a success
    And the account has the name and "is_default" that were sent, and is active
    And the account they made the default is the only default, and the former one reads false

  @must @ACC-10 @ACC-18 @ACC-19
  Scenario: A PUT with "is_default" true makes the account the only default
    Given they have created 1 account
    When they PUT the account they created with the body {"name": "NEW", "is_default": true}
    Then the response status is a success
    And the account they made the default is the only default, and the former one reads false

  @must @ACC-11 @ACC-18 @ACC-19
  Scenario: A PATCH with "is_default" true makes the account the only default
    Given they have created 1 account
    When they PATCH the account they created with the body {"is_default": true}
    Then the response status is a success
    And the account they made the default is the only default, and the former one reads false

  @must @ACC-18
  Scenario: Several simultaneous "make default" requests leave at most one default
    Given they have created 4 accounts
    When they make each account they created the default at the same time
    Then none of those requests fails with a server error
    And at most one live account reads "is_default" true

  @should @ACC-19
  Scenario: Several simultaneous "make default" requests leave exactly one default
    Given they have created 4 accounts
    When they make each account they created the default at the same time
    Then exactly one live account reads "is_default" true, one of those they made the default

  @should @ACC-20 @ERR-6
  Scenario Outline: "is_default" false on the current default, by <method>, is a conflict
    Given they have made a new account the default
    When they <method> the account they made the default with "is_default" set to false
    Then the response is a "Conflict" error with status 409

    Examples:
      | method |
      | PUT    |
      | PATCH  |

  @must @ACC-20
  Scenario Outline: A refused unset of the default, by <method>, changes nothing
    Given they have made a new account the default
    When they <method> the account they made the default with a new name and "is_default" set to false
    Then the response is a success or a client error with a JSON error body, never a server error
    And if it was refused, the account they made the default reads as it was
    And at most one live account reads "is_default" true

    Examples:
      | method |
      | PUT    |
      | PATCH  |

  @should @ACC-21 @ERR-6
  Scenario: Deleting the current default is a conflict
    Given they have made a new account the default
    When they delete the account they made the default
    Then the response is a "Conflict" error with status 409

  @must @ACC-21
  Scenario: Deleting the current default never leaves two defaults and never crashes
    Given they have made a new account the default
    When they delete the account they made the default
    Then the response is a success or a client error with a JSON error body, never a server error
    And if it was refused, the account they made the default reads as it was
    And at most one live account reads "is_default" true
